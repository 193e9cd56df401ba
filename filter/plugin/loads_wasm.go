//go:build wasm

package plugin

import "unsafe"

// Unchecked little-endian word loads (wasm is little-endian): the portable
// binary.LittleEndian forms are four or eight byte loads, shifts and ors
// inside wasm, half of the header scan's time (0.6 of 1.2 µs for the 8
// headers of logicHeaders(), measured under wazero). Callers check bounds.

// le64 reads the 8 bytes at p, little-endian, with one load.
func le64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

// le32at reads the 4 bytes at p+off, little-endian, with one load.
func le32at(p unsafe.Pointer, off int) uint32 { return *(*uint32)(unsafe.Add(p, off)) }
