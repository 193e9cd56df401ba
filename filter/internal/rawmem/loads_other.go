//go:build !wasm

package rawmem

import (
	"encoding/binary"
	"unsafe"
)

// The portable forms of loads_wasm.go's loads, for the native tests (which
// may run on a big-endian machine).

func le64(p unsafe.Pointer) uint64 { return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8)) }

func le32(p unsafe.Pointer) uint32 { return binary.LittleEndian.Uint32(unsafe.Slice((*byte)(p), 4)) }
