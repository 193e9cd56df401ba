package session

import (
	"crypto/rsa"
	"errors"
	"math/big"
)

// RSA key bounds for RS256 sessions: at least 2048 bits (what Cloudflare
// uses, and Go refuses less), at most 4096 so that the filter's signature
// buffer is bounded; e is 65537, the only exponent in use.
const (
	MinRSABits  = 2048
	MaxRSABits  = 4096
	RSAExponent = 65537
)

// ParseRSAPublicJWK returns the RSA public key of a JWK's n and e members
// (base64url without padding, RFC 7518 §6.3.1), checked against the bounds
// above. The filter reads its configuration and sync answers with it (the
// issuer checks the keys it publishes with CheckRSAPublicKey, the same
// bounds).
func ParseRSAPublicJWK(n, e string) (*rsa.PublicKey, error) {
	nb, err := b64Strict.DecodeString(n)
	if err != nil || len(nb) == 0 || nb[0] == 0 {
		return nil, errors.New("session: RSA key n is not canonical base64url")
	}
	eb, err := b64Strict.DecodeString(e)
	if err != nil || len(eb) == 0 || eb[0] == 0 {
		return nil, errors.New("session: RSA key e is not canonical base64url")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb)}
	if len(eb) > 4 || new(big.Int).SetBytes(eb).Int64() != RSAExponent {
		return nil, errors.New("session: RSA key e must be 65537")
	}
	pub.E = RSAExponent
	if err := CheckRSAPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// CheckRSAPublicKey reports whether pub is a key svcauth signs or verifies
// RS256 sessions with.
func CheckRSAPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("session: no RSA key")
	}
	if bits := pub.N.BitLen(); bits < MinRSABits || bits > MaxRSABits || bits%8 != 0 {
		return errors.New("session: RSA key must be 2048 to 4096 bits, a whole number of bytes")
	}
	if pub.N.Bit(0) == 0 {
		return errors.New("session: RSA modulus is even")
	}
	if pub.E != RSAExponent {
		return errors.New("session: RSA key e must be 65537")
	}
	return nil
}

// RSAPublicJWK returns the n and e members of pub's JWK.
func RSAPublicJWK(pub *rsa.PublicKey) (n, e string) {
	return b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}
