//go:build !wasip1 || svcauth_plain_hostmap

package headers

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// ReadRequest scans the request headers of the current stream. Natively (the
// SDK's emulator) the ABI call is not available; the SDK's list of pairs is.
// ok is always true here: the SDK's list cannot be malformed. (A module
// built with the svcauth_plain_hostmap tag reads the headers this way too,
// for the paired benchmark of rawmem.RequestHeaderMap.)
func (r *Request) ReadRequest(x *Index) (ok bool) {
	hs, _ := proxywasm.GetHttpRequestHeaders() // no headers at all: treated like none of ours
	r.Scan(hs, x)
	return true
}
