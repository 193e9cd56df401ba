package session

import (
	"crypto/hmac"
	"crypto/sha256"
)

func hmacB64(key []byte, signingInput string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signingInput))
	return b64.EncodeToString(m.Sum(nil))
}
