package rawmem

// NameFilter is the cheap first test of a header name that lets a scan rule
// out most headers without making a string or a call: a name of length n
// ending in byte c is a candidate when ByLen[min(n, MaxFilteredNameLen+1)]
// & ByLast[c] is not zero (each bit one name the caller looks for).
type NameFilter struct {
	ByLen  [MaxFilteredNameLen + 2]uint16
	ByLast [256]uint16
}

// MaxFilteredNameLen is the longest name length ByLen tells apart; longer
// names share its last slot.
const MaxFilteredNameLen = 64

// Candidates is the set of names a header name of length n ending in last
// may be.
func (f *NameFilter) Candidates(n int, last byte) uint16 {
	return f.ByLen[min(n, MaxFilteredNameLen+1)] & f.ByLast[last]
}
