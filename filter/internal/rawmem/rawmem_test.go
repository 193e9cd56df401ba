package rawmem_test

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/internal/guardpage"
	. "github.com/svcauth/svcauth/filter/internal/rawmem"
)

// FuzzSameText: SameText agrees with == for any two strings, including
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
		if got := SameText(guardpage.String(t, a), guardpage.String(t, b)); got != (a == b) { // a read past the end crashes
			t.Fatalf("SameText(%q, %q) = %v", a, b, got)
		}
		if !SameText(a, a) {
			t.Fatalf("SameText(%q, itself) = false", a)
		}
	})
}

// FuzzIndexByte: IndexByte agrees with strings.IndexByte, wherever the byte
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
		if got, want := IndexByte(guardpage.String(t, s), c), strings.IndexByte(s, c); got != want { // a read past the end crashes
			t.Fatalf("IndexByte(%q, %q) = %d, want %d", s, c, got, want)
		}
	})
}

// TestString: String and Bytes see the bytes of their argument.
func TestString(t *testing.T) {
	if s := String([]byte("cf-access-client-secret")); s != "cf-access-client-secret" {
		t.Fatalf("String = %q", s)
	}
	if String(nil) != "" {
		t.Fatal("String(nil) is not empty")
	}
	if got := Bytes("secret"); string(got) != "secret" || len(Bytes("")) != 0 {
		t.Fatalf("Bytes = %q", got)
	}
}

// FuzzScanHeaderMap holds the unchecked scan to an independent, copying
// reader of the same format: for any buffer it neither panics nor reads past
// its end (the input ends at an unreadable page), it accepts exactly the
// well-formed ones, and it reports their pairs, in order, with the
// candidates the filter gives for each name.
func FuzzScanHeaderMap(f *testing.F) {
	pairs := func(hs ...string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(hs)/2))
		for _, s := range hs {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		}
		for _, s := range hs {
			b = append(append(b, s...), 0)
		}
		return b
	}
	f.Add(pairs())
	f.Add(pairs(":path", "/", "cookie", "a=b", "", "", "x-very-long-header-name-that-is-longer-than-sixty-four-bytes-in-all", "v"))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b'})               // value runs off the end
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 'x', 'b', 0})          // no NUL after the key
	f.Add([]byte{255, 255, 255, 255, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b', 0})    // count larger than the buffer
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 'a', 0, 0}) // sizes that overflow 32 bits
	// A filter that admits names ending in 'e' or 'h' of any length, each
	// length its own bit (the last slot for every longer one).
	var nf NameFilter
	for n := range nf.ByLen {
		nf.ByLen[n] = 1 << (n % 16)
	}
	nf.ByLast['e'], nf.ByLast['h'] = 0xffff, 0xffff
	f.Fuzz(func(t *testing.T, b []byte) {
		type hit struct {
			m           uint16
			name, value string
		}
		var got []hit
		ok := ScanHeaderMap(guardpage.Bytes(t, b), &nf, func(m uint16, name, value string) {
			got = append(got, hit{m, name, value})
		})
		want, wantOK := referenceScan(b)
		if ok != wantOK {
			t.Fatalf("ScanHeaderMap(%x) ok = %v, want %v", b, ok, wantOK)
		}
		if !ok {
			return
		}
		var admitted []hit
		for _, kv := range want {
			if kv[0] == "" {
				continue
			}
			if m := nf.Candidates(len(kv[0]), kv[0][len(kv[0])-1]); m != 0 {
				admitted = append(admitted, hit{m, kv[0], kv[1]})
			}
		}
		if len(got) != len(admitted) {
			t.Fatalf("ScanHeaderMap(%x) found %+v, want %+v", b, got, admitted)
		}
		for i := range got {
			if got[i] != admitted[i] {
				t.Fatalf("ScanHeaderMap(%x) found %+v, want %+v", b, got, admitted)
			}
		}
	})
}

// referenceScan reads the header map format with bounds-checked slices.
func referenceScan(b []byte) (hs [][2]string, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	if len(b) < 4 {
		return nil, false
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n > uint64(len(b)-4)/10 {
		return nil, false
	}
	sizes, data := b[4:4+8*n], b[4+8*n:]
	for i := uint64(0); i < n; i++ {
		var kv [2]string
		for j := range 2 {
			l := uint64(binary.LittleEndian.Uint32(sizes[8*i+4*uint64(j):]))
			if l >= uint64(len(data)) || data[l] != 0 {
				return nil, false
			}
			kv[j] = string(data[:l])
			data = data[l+1:]
		}
		hs = append(hs, kv)
	}
	return hs, true
}

// TestUnexported: a field reflection reaches but may not set becomes
// settable, and setting it changes the struct.
func TestUnexported(t *testing.T) {
	type box struct{ hidden map[int]string }
	b := &box{hidden: map[int]string{1: "a"}}
	m := Unexported(reflect.ValueOf(b).Elem().FieldByName("hidden"))
	m.SetMapIndex(reflect.ValueOf(1), reflect.Value{})
	if len(b.hidden) != 0 {
		t.Fatalf("hidden = %v after deleting through Unexported", b.hidden)
	}
}
