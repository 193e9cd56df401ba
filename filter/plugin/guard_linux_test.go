//go:build linux

package plugin

import (
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a copy of b that ends where an unreadable page begins, so
// that reading even one byte past its end crashes the test. The filter's
// word loads (loads_*.go) are unchecked: without this, a read past the end of
// a Go allocation returns whatever lies there, and the fuzz tests could not
// see it. The copy is unmapped when the test ends.
func guarded(t testing.TB, b []byte) []byte {
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

// guardedString is guarded for a string.
func guardedString(t testing.TB, s string) string {
	b := guarded(t, []byte(s))
	return unsafe.String(unsafe.SliceData(b), len(b))
}
