// Package credential defines the shapes of service-token client ids and
// secrets, and of the application audience tag they are exchanged for. The
// issuer generates them; the filter checks their shape so that a mistyped or
// random secret is refused without a call to the issuer.
package credential

import (
	"crypto/rand"
	"encoding/hex"
	"hash/crc32"
)

// ClientIDSuffix ends every client id: 32 lowercase hex + ".access", the shape
// Cloudflare Access uses, so existing clients and scripts need no change.
const ClientIDSuffix = ".access"

// SecretPrefix starts every secret svcauth generates, so secret scanners can
// find leaked ones.
const SecretPrefix = "svcauth_cs_"

const (
	base62         = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretBodyLen  = 43 // 43 base62 digits carry 256.03 bits
	checksumLen    = 6  // 62^6 > 2^32: a CRC-32 fits
	clientIDHexLen = 32
	legacyHexLen   = 64 // secrets imported from Cloudflare Access
)

// SecretLength is the length of every secret svcauth generates.
const SecretLength = len(SecretPrefix) + secretBodyLen + checksumLen

// NewClientID returns a fresh random client id.
func NewClientID() string {
	var b [clientIDHexLen / 2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + ClientIDSuffix
}

// NewSecret returns a fresh secret: prefix, 256 bits as base62, CRC-32 checksum.
func NewSecret() string {
	out := make([]byte, 0, SecretLength)
	out = append(out, SecretPrefix...)
	var buf [64]byte
	for len(out) < len(SecretPrefix)+secretBodyLen {
		rand.Read(buf[:])
		for _, c := range buf {
			// 248 = 4*62: rejecting the top 8 values keeps every digit uniform.
			if c < 248 && len(out) < len(SecretPrefix)+secretBodyLen {
				out = append(out, base62[c%62])
			}
		}
	}
	return string(appendChecksum(out, out))
}

// ValidClientID reports whether s has the client id shape.
func ValidClientID(s string) bool {
	if len(s) != clientIDHexLen+len(ClientIDSuffix) || s[clientIDHexLen:] != ClientIDSuffix {
		return false
	}
	return isLowerHex(s[:clientIDHexLen])
}

// AudienceLength is the length of an application's audience tag (aud).
const AudienceLength = 64

// ValidAudience reports whether s is an application's audience tag: 64
// lowercase hex. The filter's configuration and the issuer's exchange and
// sync endpoints check it the same way.
func ValidAudience(s string) bool {
	return len(s) == AudienceLength && isLowerHex(s)
}

// PlausibleLengths reports whether id and secret have the lengths of a
// client id and of a secret (svcauth's or an imported one): a cheap first
// check, before ValidClientID and ValidSecret.
func PlausibleLengths(id, secret string) bool {
	return len(id) == clientIDHexLen+len(ClientIDSuffix) && (len(secret) == SecretLength || len(secret) == legacyHexLen)
}

// ValidSecret reports whether s is a well-formed secret: one svcauth generated
// (prefix, base62 body, matching checksum) or a 64-hex secret imported from
// Cloudflare Access. It says nothing about whether the secret is correct.
func ValidSecret(s string) bool {
	if len(s) == legacyHexLen {
		return isLowerHex(s)
	}
	if len(s) != SecretLength || s[:len(SecretPrefix)] != SecretPrefix {
		return false
	}
	body := s[:len(s)-checksumLen]
	for i := len(SecretPrefix); i < len(body); i++ {
		if !isBase62(body[i]) {
			return false
		}
	}
	var sum [checksumLen]byte
	return string(appendChecksum(sum[:0], body)) == s[len(body):]
}

// ieeeTable is the IEEE CRC-32 table. The checksum is computed here, a byte
// at a time, rather than with crc32.ChecksumIEEE: that one reaches its
// implementation through a function variable, which makes the data escape
// (a heap copy of the secret on every check, inside the filter on every
// request that carries one), and inside wasm there is no acceleration to gain.
var ieeeTable = crc32.MakeTable(crc32.IEEE)

func crcIEEE[T string | []byte](data T) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(data); i++ {
		crc = ieeeTable[byte(crc)^data[i]] ^ crc>>8
	}
	return ^crc
}

func appendChecksum[T string | []byte](dst []byte, data T) []byte {
	sum := crcIEEE(data)
	var digits [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		digits[i] = base62[sum%62]
		sum /= 62
	}
	return append(dst, digits[:]...)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isBase62(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}
