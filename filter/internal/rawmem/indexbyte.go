//go:build !svcauth_plain_indexbyte

package rawmem

import (
	"math/bits"
	"unsafe"
)

// IndexByte is strings.IndexByte for the long values the filter searches (a
// Cookie header holds a 500-byte session JWT): the runtime's wasm version
// looks at four bytes a step, this one at 32, which inside wasm halves the
// search (BenchmarkLogicIndexByte). Natively it is slower than the runtime's
// and only the tests run it there.
func IndexByte(s string, c byte) int {
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	pattern := uint64(c) * lsb
	i := 0
	for ; i+32 <= n; i += 32 {
		m0 := zeroBytes(le64(unsafe.Add(p, i)) ^ pattern)
		m1 := zeroBytes(le64(unsafe.Add(p, i+8)) ^ pattern)
		m2 := zeroBytes(le64(unsafe.Add(p, i+16)) ^ pattern)
		m3 := zeroBytes(le64(unsafe.Add(p, i+24)) ^ pattern)
		if m0|m1|m2|m3 != 0 {
			switch {
			case m0 != 0:
				return i + bits.TrailingZeros64(m0)/8
			case m1 != 0:
				return i + 8 + bits.TrailingZeros64(m1)/8
			case m2 != 0:
				return i + 16 + bits.TrailingZeros64(m2)/8
			}
			return i + 24 + bits.TrailingZeros64(m3)/8
		}
	}
	for ; i+8 <= n; i += 8 {
		if m := zeroBytes(le64(unsafe.Add(p, i)) ^ pattern); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < n; i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// zeroBytes has the high bit set in the lowest zero byte of x (and possibly
// in higher bytes above it, which the borrow reaches): its lowest set bit,
// read little-endian, is the first zero byte's.
func zeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }
