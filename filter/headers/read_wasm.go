//go:build wasip1 && !svcauth_plain_hostmap

package headers

import "github.com/svcauth/svcauth/filter/internal/rawmem"

// ReadRequest scans the request headers of the current stream, where the
// host wrote them. No headers at all (or a host error) reads as none of the
// filter's; a malformed buffer gives ok false (ScanSerialized).
func (r *Request) ReadRequest(x *Index) (ok bool) {
	b := rawmem.RequestHeaderMap()
	if b == nil {
		return true
	}
	return r.ScanSerialized(b, x)
}
