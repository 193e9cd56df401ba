package plugin

import "unsafe"

// scanSerialized reads request headers in the form a proxy-wasm host hands
// them over (proxy_get_header_map_pairs): the number of pairs, each pair's
// key and value sizes (little-endian uint32), then each key and value
// followed by a NUL. The strings point into b, which must not change while
// they are used: reading them in place, rather than through the SDK's list
// of pairs, saves an allocation and a copy of every header on every request
// (docs/performance.md). A malformed buffer stops the scan where it stops
// making sense and ok is false: the request is refused (readRequest), as a
// scan that stopped early may have missed a header that must be stripped.
func (r *requestHeaders) scanSerialized(b []byte, c *Config) (ok bool) {
	if len(b) < 4 {
		return len(b) == 0
	}
	n := le32at(unsafe.Pointer(unsafe.SliceData(b)), 0)
	if uint64(n) > uint64(len(b)-4)/10 { // 8 bytes of sizes and 2 NULs per pair at least
		return false
	}
	// Past the check above every read is in bounds: the sizes are n pairs of
	// words, and each header is checked to fit what is left of the data
	// before it is read. Reading through offsets from the buffer's start,
	// without Go's bounds checks (each a branch of its own inside wasm),
	// takes about a third off the scan (BenchmarkLogicScan); FuzzScanSerialized
	// holds it to the scan of a list of pairs.
	base := unsafe.Pointer(unsafe.SliceData(b))
	end := uint64(len(b))
	off := 4 + 8*uint64(n) // where the next header's key starts
	for i := 0; i < int(n); i++ {
		kl, vl := uint64(le32at(base, 4+8*i)), uint64(le32at(base, 8+8*i))
		if kl+vl+2 > end-off || *(*byte)(unsafe.Add(base, off+kl)) != 0 || *(*byte)(unsafe.Add(base, off+kl+1+vl)) != 0 {
			return false
		}
		// Most headers are not the filter's: rule them out before making
		// strings or calls (headerIndex).
		if kl > 0 {
			if m := c.headers.candidates(int(kl), *(*byte)(unsafe.Add(base, off+kl-1))); m != 0 {
				k := unsafe.String((*byte)(unsafe.Add(base, off)), kl)
				if kind, ok := c.headers.match(m, k); ok {
					r.take(kind, unsafe.String((*byte)(unsafe.Add(base, off+kl+1)), vl), c)
				}
			}
		}
		off += kl + vl + 2
	}
	return true
}
