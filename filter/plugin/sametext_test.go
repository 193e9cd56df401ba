package plugin

import "testing"

// FuzzSameText: sameText agrees with == for any two strings, including
// lengths that are not multiples of eight or 32 and differences in the last
// byte.
func FuzzSameText(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"a", "a"}, {"a", "b"}, {"abcdefgh", "abcdefgh"}, {"abcdefgh", "abcdefgi"},
		{"abcdefghi", "abcdefghj"}, {"xbcdefghijklmnop", "abcdefghijklmnop"}, {"abc", "abcd"},
	} {
		f.Add(s[0], s[1])
	}
	// Past the four-word steps: a difference in each word of a step, and
	// in the words and bytes after the last step.
	long := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_+="
	for _, at := range []int{0, 9, 17, 25, 31, 32, 40, 63, 64, 65} {
		f.Add(long, long[:at]+"!"+long[at+1:])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := sameText(guardedString(t, a), guardedString(t, b)); got != (a == b) { // a read past the end crashes
			t.Fatalf("sameText(%q, %q) = %v", a, b, got)
		}
		if !sameText(a, a) {
			t.Fatalf("sameText(%q, itself) = false", a)
		}
	})
}
