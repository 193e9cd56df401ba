package session

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"hash"
	"strings"

	"github.com/tidwall/gjson"
)

// b64Strict decodes signatures: a lenient decoder ignores the 2 spare bits of
// the last of 43 characters, which would let 4 spellings of one token verify.
var b64Strict = b64.Strict()

// Verifier checks session tokens for one application. It keeps one keyed
// HMAC state per HS256 key and reuses it, so it is not safe for concurrent
// use: each proxy-wasm VM is single-threaded and owns its own Verifier.
type Verifier struct {
	audience string
	skew     int64
	keys     []verifierKey
	sum      [sha256.Size]byte
}

// verifierKey is an HS256 key (mac) or an RS256 key (pub), never both.
type verifierKey struct {
	id  string
	mac hash.Hash
	pub *rsa.PublicKey
}

// maxSigLength is the longest signature Verify decodes: that of a 4096-bit
// RSA key.
const maxSigLength = MaxRSABits / 8

// NewVerifier returns a Verifier that accepts tokens for audience signed by any
// of keys, allowing skewSeconds of clock difference on exp and nbf.
func NewVerifier(audience string, keys []Key, skewSeconds int64) (*Verifier, error) {
	if audience == "" {
		return nil, errors.New("session: verifier needs an audience")
	}
	if len(keys) == 0 {
		return nil, errors.New("session: verifier needs at least one key")
	}
	if skewSeconds < 0 {
		return nil, errors.New("session: clock skew must not be negative")
	}
	v := &Verifier{audience: audience, skew: skewSeconds}
	for _, k := range keys {
		if k.ID == "" {
			return nil, errors.New("session: every key needs an id")
		}
		for _, seen := range v.keys {
			if seen.id == k.ID {
				return nil, errors.New("session: duplicate key id " + k.ID)
			}
		}
		if k.Public != nil {
			if err := CheckRSAPublicKey(k.Public); err != nil {
				return nil, err
			}
			v.keys = append(v.keys, verifierKey{id: k.ID, pub: k.Public})
			continue
		}
		if len(k.Secret) < 32 {
			return nil, errors.New("session: every HS256 key needs at least 32 bytes")
		}
		v.keys = append(v.keys, verifierKey{id: k.ID, mac: hmac.New(sha256.New, k.Secret)})
	}
	return v, nil
}

// Verify checks token at time now (Unix seconds) and returns its claims.
// Checks run cheapest-first, and the signature is checked before any claim is
// trusted. Every failure is one of the package's Err values.
func (v *Verifier) Verify(token string, now int64) (Claims, error) {
	var c Claims
	if len(token) == 0 || len(token) > MaxTokenLength {
		return c, ErrMalformed
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 <= 0 {
		return c, ErrMalformed
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.')
	if dot2 <= 0 {
		return c, ErrMalformed
	}
	dot2 += dot1 + 1
	encHeader, encPayload, encSig := token[:dot1], token[dot1+1:dot2], token[dot2+1:]
	if b64.DecodedLen(len(encSig)) > maxSigLength {
		return c, ErrMalformed
	}

	var headerBuf [256]byte
	if b64.DecodedLen(len(encHeader)) > len(headerBuf) {
		return c, ErrMalformed
	}
	n, err := b64.Decode(headerBuf[:], []byte(encHeader))
	if err != nil || !gjson.ValidBytes(headerBuf[:n]) {
		return c, ErrMalformed
	}
	header := headerBuf[:n]
	alg := gjson.GetBytes(header, "alg")
	if alg.Type != gjson.String || (alg.Str != HS256 && alg.Str != RS256) {
		return c, ErrAlgorithm
	}
	kid := gjson.GetBytes(header, "kid")
	if kid.Type != gjson.String {
		return c, ErrUnknownKey
	}
	var key *verifierKey
	for i := range v.keys {
		if v.keys[i].id == kid.Str {
			key = &v.keys[i]
			break
		}
	}
	if key == nil {
		return c, ErrUnknownKey
	}
	// The alg must be the key's: an HS256 token "signed" with the bytes of
	// a published RSA key, or an RS256 token under an HMAC key, is refused
	// before any signature is computed.
	if (key.pub != nil) != (alg.Str == RS256) {
		return c, ErrAlgorithm
	}
	if err := v.checkSignature(key, token[:dot2], encSig); err != nil {
		return c, err
	}

	var payloadBuf [MaxTokenLength]byte
	n, err = b64.Decode(payloadBuf[:], []byte(encPayload))
	if err != nil || !gjson.ValidBytes(payloadBuf[:n]) {
		return c, ErrMalformed
	}
	if err := parseClaims(payloadBuf[:n], &c); err != nil {
		return c, err
	}
	if c.Type != TypeApp || c.ExpiresAt == 0 {
		return c, ErrClaims
	}
	if c.Audience != v.audience {
		return c, ErrAudience
	}
	return c, CheckWindow(c.ExpiresAt, c.NotBefore, now, v.skew)
}

// checkSignature checks encSig, the third part of a token, over signingInput
// with key. Each algorithm decodes into a buffer of its own signature's
// size: an HS256 check (every first sight of a session in a VM) zeroes 32
// bytes, not the 512 an RSA signature may need.
func (v *Verifier) checkSignature(key *verifierKey, signingInput, encSig string) error {
	if key.pub != nil {
		var sig [maxSigLength]byte
		want := key.pub.Size()
		if b64.DecodedLen(len(encSig)) != want {
			return ErrMalformed
		}
		if n, err := b64Strict.Decode(sig[:], []byte(encSig)); err != nil || n != want {
			return ErrMalformed
		}
		digest := sha256.Sum256([]byte(signingInput))
		if rsa.VerifyPKCS1v15(key.pub, crypto.SHA256, digest[:], sig[:want]) != nil {
			return ErrSignature
		}
		return nil
	}
	var sig [sha256.Size]byte
	if b64.DecodedLen(len(encSig)) != len(sig) {
		return ErrMalformed
	}
	if n, err := b64Strict.Decode(sig[:], []byte(encSig)); err != nil || n != len(sig) {
		return ErrMalformed
	}
	key.mac.Reset()
	key.mac.Write([]byte(signingInput))
	if !hmac.Equal(key.mac.Sum(v.sum[:0]), sig[:]) {
		return ErrSignature
	}
	return nil
}

// CheckWindow is the validity window of a session: ErrExpired from exp on,
// ErrNotYetValid before nbf, each with skew seconds of leeway; nil within.
// The filter's cache of verified sessions applies it to their claims again
// on every hit.
func CheckWindow(exp, nbf, now, skew int64) error {
	switch {
	case now >= exp+skew:
		return ErrExpired
	case now+skew < nbf:
		return ErrNotYetValid
	}
	return nil
}

// parseClaims reads the claims svcauth uses in one pass over payload.
// aud may be a string or an array (RFC 7519); the token is for v's audience
// only if it names it, so an array is reduced to the matching member.
func parseClaims(payload []byte, c *Claims) error {
	bad := false
	audFound := ""
	gjson.ParseBytes(payload).ForEach(func(k, val gjson.Result) bool {
		switch k.Str {
		case "type":
			c.Type = val.Str
		case "aud":
			switch {
			case val.Type == gjson.String:
				audFound = val.Str
			case val.IsArray():
				val.ForEach(func(_, a gjson.Result) bool {
					audFound = a.Str
					return false // svcauth tokens name exactly one audience
				})
			default:
				bad = true
			}
		case "iss":
			c.Issuer = val.Str
		case "iat":
			c.IssuedAt, bad = intClaim(val, bad)
		case "nbf":
			c.NotBefore, bad = intClaim(val, bad)
		case "exp":
			c.ExpiresAt, bad = intClaim(val, bad)
		case "common_name":
			c.CommonName = val.Str
		case "sub":
			c.Subject = val.Str
		case "jti":
			c.ID = val.Str
		case "token_id":
			c.TokenID = val.Str
		}
		return !bad
	})
	if bad {
		return ErrClaims
	}
	c.Audience = audFound
	return nil
}

func intClaim(v gjson.Result, bad bool) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, true
	}
	return v.Int(), bad
}
