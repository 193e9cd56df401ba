package headers

import (
	"encoding/binary"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// ScanSerialized reads request headers in the form a proxy-wasm host hands
// them over (proxy_get_header_map_pairs), in place (rawmem.ScanHeaderMap):
// reading them where the host wrote them, rather than through the SDK's
// list of pairs, saves an allocation and a copy of every header on every
// request (docs/performance.md). The strings point into b, which must not
// change while they are used. A malformed buffer gives ok false: the filter
// refuses the request, as a scan that stopped early may have missed a
// header that must be stripped. FuzzScanSerialized holds it to Scan of the
// same pairs.
func (r *Request) ScanSerialized(b []byte, x *Index) (ok bool) {
	return rawmem.ScanHeaderMap(b, &x.filter, func(m uint16, name, value string) {
		if kind, ok := x.match(m, name); ok {
			r.take(kind, value, x)
		}
	})
}

// SerializePairs writes header pairs as a proxy-wasm host hands them over:
// the inverse of ScanSerialized, for the tests and benchmarks that play the
// host.
func SerializePairs(hs [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(hs)))
	for _, kv := range hs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range hs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}
