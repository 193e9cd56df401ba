//go:build !svcauth_plain_sametext

package rawmem

import "unsafe"

// SameText reports whether a and b are equal, in time that depends only on
// their lengths (comparisons of credentials and tokens must not leak where
// they differ), eight bytes at a time: inside wasm the runtime's own string
// comparison goes byte by byte, about 2 µs for a 500-byte session JWT.
func SameText(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	n := len(a)
	pa, pb := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	var diff uint64
	i := 0
	for ; i+32 <= n; i += 32 { // four words a step: the loop's own cost dominates inside wasm
		// Parenthesised: ^ and | bind equally in Go, left to right.
		diff |= (*(*uint64)(unsafe.Add(pa, i)) ^ *(*uint64)(unsafe.Add(pb, i))) |
			(*(*uint64)(unsafe.Add(pa, i+8)) ^ *(*uint64)(unsafe.Add(pb, i+8))) |
			(*(*uint64)(unsafe.Add(pa, i+16)) ^ *(*uint64)(unsafe.Add(pb, i+16))) |
			(*(*uint64)(unsafe.Add(pa, i+24)) ^ *(*uint64)(unsafe.Add(pb, i+24)))
	}
	for ; i+8 <= n; i += 8 {
		diff |= *(*uint64)(unsafe.Add(pa, i)) ^ *(*uint64)(unsafe.Add(pb, i))
	}
	if i < n && n >= 8 {
		// The last word, overlapping the one before: one step, not up to
		// seven byte steps (for a given length, always the same work).
		diff |= *(*uint64)(unsafe.Add(pa, n-8)) ^ *(*uint64)(unsafe.Add(pb, n-8))
		i = n
	}
	for ; i < n; i++ {
		diff |= uint64(a[i] ^ b[i])
	}
	return diff == 0
}
