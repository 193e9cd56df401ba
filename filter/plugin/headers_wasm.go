//go:build wasip1

package plugin

import "unsafe"

// proxyGetHeaderMapPairs is the ABI call behind the SDK's
// GetHttpRequestHeaders, declared here so that the filter can read the
// host's buffer in place (scanSerialized) instead of through a list of pairs.
// The host only writes through the two pointers during the call: noescape
// keeps them on the stack (the SDK's declaration makes both escape, two heap
// allocations per call).
//
//go:wasmimport env proxy_get_header_map_pairs
//go:noescape
func proxyGetHeaderMapPairs(mapType uint32, returnData unsafe.Pointer, returnSize *int32) uint32

const mapTypeRequestHeaders = 0 // proxy-wasm MapType HttpRequestHeaders

// readRequest scans the request headers of the current stream. No headers at
// all (or a host error) is treated like none of ours.
// A malformed buffer gives ok false (scanSerialized).
func (r *requestHeaders) readRequest(c *Config) (ok bool) {
	var raw *byte
	var size int32
	if proxyGetHeaderMapPairs(mapTypeRequestHeaders, unsafe.Pointer(&raw), &size) != 0 || raw == nil || size <= 0 {
		return true
	}
	return r.scanSerialized(unsafe.Slice(raw, size), c)
}
