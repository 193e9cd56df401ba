package httpx

import (
	"crypto/rand"
	"encoding/hex"
)

// NewRequestID returns a new request id: 96 random bits in hex. The API and
// the dashboard give one to every request that brings no usable id.
func NewRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	var out [24]byte // on the stack: one allocation, the string
	hex.Encode(out[:], b[:])
	return string(out[:])
}
