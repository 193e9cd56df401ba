//go:build !wasm

package plugin

import (
	"encoding/binary"
	"unsafe"
)

// The portable forms of loads_wasm.go's loads (which has why they exist).

// le64 reads the 8 bytes at p, little-endian.
func le64(p unsafe.Pointer) uint64 { return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8)) }

// le32at reads the 4 bytes at p+off, little-endian.
func le32at(p unsafe.Pointer, off int) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice((*byte)(unsafe.Add(p, off)), 4))
}
