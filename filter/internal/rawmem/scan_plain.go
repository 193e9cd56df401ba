//go:build svcauth_plain_scan

package rawmem

import "encoding/binary"

// ScanHeaderMap is scan.go's, in ordinary Go (see doc.go): bounds-checked
// slices and encoding/binary.
func ScanHeaderMap(b []byte, f *NameFilter, found func(candidates uint16, name, value string)) (ok bool) {
	if len(b) < 4 {
		return len(b) == 0
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4)/10 {
		return false
	}
	sizes, data := b[4:4+8*int(n)], b[4+8*int(n):]
	for i := 0; i < int(n); i++ {
		kl, vl := uint64(binary.LittleEndian.Uint32(sizes[8*i:])), uint64(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > uint64(len(data)) || data[kl] != 0 || data[kl+1+vl] != 0 {
			return false
		}
		if kl > 0 {
			if m := f.Candidates(int(kl), data[kl-1]); m != 0 {
				found(m, String(data[:kl]), String(data[kl+1:kl+1+vl]))
			}
		}
		data = data[kl+vl+2:]
	}
	return true
}
