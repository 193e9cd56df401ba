//go:build linux

// Package guardpage gives the fuzz tests of the filter's unchecked reads
// (filter/internal/rawmem, and the header scan over it) inputs that end
// where an unreadable page begins, so that reading even one byte past an
// input's end crashes the test. Without it, a read past the end of a Go
// allocation returns whatever lies there, and no test could see it.
package guardpage

import (
	"syscall"
	"testing"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// Bytes returns a copy of b that ends where an unreadable page begins. The
// copy is unmapped when the test ends.
func Bytes(t testing.TB, b []byte) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	size := (len(b)+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	out := mem[size-page-len(b) : size-page : size-page]
	copy(out, b)
	return out
}

// String is Bytes for a string (a view of the guarded copy).
func String(t testing.TB, s string) string { return rawmem.String(Bytes(t, []byte(s))) }
