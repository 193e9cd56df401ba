//go:build wasm

package plugin

import "unsafe"

// le32 is binary.LittleEndian.Uint32(b[i:]) as one load (wasm is
// little-endian): the portable form's four byte loads, shifts and ors were
// half of the header scan's time inside wasm (0.6 of 1.2 µs for the 8
// headers of logicHeaders(), measured under wazero).
func le32(b []byte, i int) uint32 {
	_ = b[i+3]
	return *(*uint32)(unsafe.Pointer(&b[i]))
}

// le64 reads the 8 bytes at p, little-endian, with one load.
func le64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

// le32at reads the 4 bytes at p+off, little-endian, with one load.
func le32at(p unsafe.Pointer, off int) uint32 { return *(*uint32)(unsafe.Add(p, off)) }
