package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Sessions are stored so that the database alone opens nothing: the row's
// id is the SHA-256 of the cookie value, and everything secret in it is
// sealed with AES-256-GCM under a key derived from that value, which only
// the browser keeps. A backup or another reader of the database gets
// neither an admin key nor a client secret, and cannot make a cookie that
// finds a row.

// sealInfo is the HKDF info of the session key: domain separation from the
// id (plain SHA-256 of the same value) and from any other use.
const sealInfo = "svcauth/ui-session/v1"

// Purposes of sealed values, the additional data of their seal: a value
// sealed as one does not open as another (a client secret copied into the
// admin key's column, or one slot's secret into another slot).
const (
	purposeAdminKey = "admin-key"
	purposeCSRF     = "csrf"
)

func purposeItem(kind, slot string) string { return "item/" + kind + "/" + slot }

var errUnseal = errors.New("ui: a sealed session value did not open")

// sessionID is the stored id of the session of cookie value v.
func sessionID(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// sealer seals and opens the values of one session.
type sealer struct{ aead cipher.AEAD }

// newSealer returns the sealer of cookie value v: AES-256-GCM under
// HKDF-SHA256(v, no salt, sealInfo). The value is 256 bits of randomness,
// so no salt or stretching is needed.
func newSealer(v string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(v), nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce ‖ ciphertext of plain. Nonces are random: a session
// seals a few dozen values, far from GCM's random-nonce limit.
func (s *sealer) seal(purpose string, plain []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out, plain, []byte(purpose)), nil
}

// open returns the plaintext of sealed, or errUnseal (never the cause:
// nothing about the values goes into errors).
func (s *sealer) open(purpose string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, errUnseal
	}
	plain, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(purpose))
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
