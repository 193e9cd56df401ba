package plugin

import (
	"strings"
	"testing"
)

// FuzzIndexByte: indexByte agrees with strings.IndexByte, wherever the byte
// falls in a 32-byte step, in the words after the last step or in the bytes
// after those, and next to bytes that differ from it in one bit (the
// zero-byte test's borrow can mark bytes above the first match, never below).
func FuzzIndexByte(f *testing.F) {
	base := strings.Repeat("abcdefghijklmnop", 5) // 80 bytes
	for _, at := range []int{0, 1, 7, 8, 15, 24, 31, 32, 33, 63, 64, 71, 72, 79} {
		f.Add(base[:at]+";"+base[at+1:], byte(';'))
	}
	f.Add("", byte(';'))
	f.Add(base, byte(';'))
	f.Add("\x3a\x3b\x3c\xbb;;", byte(';'))
	f.Add(strings.Repeat("\x01", 40)+"\x00", byte(0))
	f.Add(strings.Repeat("\xbb\x3a", 20)+";", byte(';'))
	// Bytes one bit away from ';' in every position of a word, and ';' after
	// them: a wrong load or mask shows as a match too early or too late.
	near := []byte{';' ^ 1, ';' ^ 2, ';' ^ 4, ';' ^ 8, ';' ^ 16, ';' ^ 32, ';' ^ 64, ';' ^ 128}
	for r := range near {
		rotated := append(append([]byte(nil), near[r:]...), near[:r]...)
		f.Add(strings.Repeat(string(rotated), 9)+";", byte(';'))
	}
	f.Fuzz(func(t *testing.T, s string, c byte) {
		if got, want := indexByte(guardedString(t, s), c), strings.IndexByte(s, c); got != want { // a read past the end crashes
			t.Fatalf("indexByte(%q, %q) = %d, want %d", s, c, got, want)
		}
	})
}
