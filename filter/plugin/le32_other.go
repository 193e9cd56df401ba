//go:build !wasm

package plugin

import "encoding/binary"

// le32 is binary.LittleEndian.Uint32(b[i:]); le32_wasm.go has why.
func le32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
