package headers

// nameWords is three words that, for strings of one length up to 24 bytes,
// are equal exactly when the strings are: bytes 0-7, 8-15 and the last 8
// (overlapping below 24 bytes; below 16 the second word is the last 8 bytes
// and the third is 0; below 8, 4-byte halves; below 4, all the bytes).
// Comparing three words costs less inside wasm than a comparison loop, which
// pays a call and a branch per step. (Reading each word with one unchecked
// load saved under 10 % of a cached request, so it is not done:
// docs/performance.md.)
func nameWords(s string) [3]uint64 {
	n := len(s)
	switch {
	case n >= 16:
		return [3]uint64{word64(s), word64(s[8:]), word64(s[n-8:])}
	case n >= 8:
		return [3]uint64{word64(s), word64(s[n-8:]), 0}
	case n >= 4:
		return [3]uint64{shortWord(s[:4]), shortWord(s[n-4:]), 0}
	}
	return [3]uint64{shortWord(s), 0, 0}
}

// word64 is the first 8 bytes of s, little-endian.
func word64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// shortWord is the bytes of a string of at most 8 bytes, little-endian.
func shortWord(s string) uint64 {
	var w uint64
	for i := 0; i < len(s); i++ {
		w |= uint64(s[i]) << (8 * i)
	}
	return w
}
