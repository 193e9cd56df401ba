//go:build wasip1 && !svcauth_plain_hostmap

package rawmem

import "unsafe"

// proxyGetHeaderMapPairs is the ABI call behind the SDK's
// GetHttpRequestHeaders, declared here so that the filter can read the
// host's buffer in place instead of through a list of pairs. The host only
// writes through the two pointers during the call: noescape keeps them on
// the stack (the SDK's declaration makes both escape, two heap allocations
// per call).
//
//go:wasmimport env proxy_get_header_map_pairs
//go:noescape
func proxyGetHeaderMapPairs(mapType uint32, returnData unsafe.Pointer, returnSize *int32) uint32

const mapTypeRequestHeaders = 0 // proxy-wasm MapType HttpRequestHeaders

// RequestHeaderMap is the current stream's request headers as the host
// serialises them (the format headers.Request.ScanSerialized reads), in the
// buffer the host allocated in the module's memory for this call. It is nil
// when the host has none or refuses the call.
func RequestHeaderMap() []byte {
	var raw *byte
	var size int32
	if proxyGetHeaderMapPairs(mapTypeRequestHeaders, unsafe.Pointer(&raw), &size) != 0 || raw == nil || size <= 0 {
		return nil
	}
	return unsafe.Slice(raw, size)
}
