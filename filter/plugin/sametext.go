package plugin

import "unsafe"

// sameText reports whether a and b are equal, in time that depends only on
// their lengths (comparisons of credentials and tokens must not leak where
// they differ), eight bytes at a time: inside wasm the runtime's own string
// comparison goes byte by byte, about 2 µs for a 500-byte session JWT.
func sameText(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	n := len(a)
	pa, pb := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	var diff uint64
	i := 0
	for ; i+8 <= n; i += 8 {
		diff |= *(*uint64)(unsafe.Add(pa, i)) ^ *(*uint64)(unsafe.Add(pb, i))
	}
	for ; i < n; i++ {
		diff |= uint64(a[i] ^ b[i])
	}
	return diff == 0
}
