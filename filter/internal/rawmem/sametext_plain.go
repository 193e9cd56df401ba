//go:build svcauth_plain_sametext

package rawmem

// SameText reports whether a and b are equal, in time that depends only on
// their lengths, a byte at a time (the ordinary-Go form: see doc.go).
func SameText(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff byte
	for i := 0; i < len(a); i++ {
		diff |= a[i] ^ b[i]
	}
	return diff == 0
}
