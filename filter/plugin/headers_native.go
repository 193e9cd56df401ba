//go:build !wasip1

package plugin

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// readRequest scans the request headers of the current stream. Natively (the
// SDK's emulator) the ABI call is not available; the SDK's list of pairs is.
// The module reads the host's buffer in place (headers_wasm.go). ok is
// always true here: the SDK's list cannot be malformed.
func (r *requestHeaders) readRequest(c *Config) (ok bool) {
	hs, _ := proxywasm.GetHttpRequestHeaders() // no headers at all: treated like none of ours
	r.scan(hs, c)
	return true
}
