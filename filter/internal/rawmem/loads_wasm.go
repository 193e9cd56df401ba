//go:build wasm

package rawmem

import "unsafe"

// Unchecked little-endian word loads (wasm is little-endian): the portable
// binary.LittleEndian forms are four or eight byte loads, shifts and ors
// inside wasm. Callers check bounds.

func le64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

func le32(p unsafe.Pointer) uint32 { return *(*uint32)(p) }
