package plugin

import "testing"

// FuzzSameText: sameText agrees with == for any two strings, including
// lengths that are not multiples of eight and differences in the last byte.
func FuzzSameText(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"a", "a"}, {"a", "b"}, {"abcdefgh", "abcdefgh"}, {"abcdefgh", "abcdefgi"},
		{"abcdefghi", "abcdefghj"}, {"xbcdefghijklmnop", "abcdefghijklmnop"}, {"abc", "abcd"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := sameText(a, b); got != (a == b) {
			t.Fatalf("sameText(%q, %q) = %v", a, b, got)
		}
		if !sameText(a, a) {
			t.Fatalf("sameText(%q, itself) = false", a)
		}
	})
}
