package plugin

import "unsafe"

// scanSerialized reads request headers in the form a proxy-wasm host hands
// them over (proxy_get_header_map_pairs): the number of pairs, each pair's
// key and value sizes (little-endian uint32), then each key and value
// followed by a NUL. The strings point into b, which must not change while
// they are used: reading them in place, rather than through the SDK's list
// of pairs, saves an allocation and a copy of every header on every request
// (README "Performance"). A malformed buffer stops the scan where it stops
// making sense and ok is false: the request is refused (readRequest), as a
// scan that stopped early may have missed a header that must be stripped.
func (r *requestHeaders) scanSerialized(b []byte, c *Config) (ok bool) {
	if len(b) < 4 {
		return len(b) == 0
	}
	n := le32(b, 0)
	if uint64(n) > uint64(len(b)-4)/10 { // 8 bytes of sizes and 2 NULs per pair at least
		return false
	}
	sizes, data := b[4:4+8*int(n)], b[4+8*int(n):]
	for i := 0; i < int(n); i++ {
		sz := sizes[8*i : 8*i+8 : 8*i+8]
		kl, vl := le32(sz, 0), le32(sz, 4)
		if uint64(kl)+uint64(vl)+2 > uint64(len(data)) || data[kl] != 0 || data[kl+1+vl] != 0 {
			return false
		}
		// Most headers are not the filter's: rule them out before making
		// strings or calls (headerIndex).
		if kl > 0 {
			if m := c.headers.candidates(int(kl), data[kl-1]); m != 0 {
				k := unsafe.String(unsafe.SliceData(data), kl)
				if kind, ok := c.headers.match(m, k); ok {
					r.take(kind, unsafe.String(unsafe.SliceData(data[kl+1:]), vl), c)
				}
			}
		}
		data = data[kl+vl+2:]
	}
	return true
}
