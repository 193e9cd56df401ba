package httpx

import (
	"crypto/rand"
	"encoding/hex"
)

// NewRequestID returns a new request id: 96 random bits in hex. The API and
// the dashboard give one to every request that brings no usable id.
func NewRequestID() string { return RandomHex(12) }

// RandomHex returns n (at most 16) random bytes in hex, with one allocation:
// the string (the buffers stay on the stack). Request ids and session JWT
// ids (jti) are made with it.
func RandomHex(n int) string {
	var b [16]byte
	rand.Read(b[:n])
	var out [32]byte
	hex.Encode(out[:2*n], b[:n])
	return string(out[:2*n])
}
