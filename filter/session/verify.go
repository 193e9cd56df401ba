package session

import (
	"crypto/hmac"
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
// HMAC state per key and reuses it, so it is not safe for concurrent use:
// each proxy-wasm VM is single-threaded and owns its own Verifier.
type Verifier struct {
	audience string
	skew     int64
	keys     []verifierKey
	sum      [sha256.Size]byte
}

type verifierKey struct {
	id  string
	mac hash.Hash
}

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
		if k.ID == "" || len(k.Secret) < 32 {
			return nil, errors.New("session: every key needs an id and at least 32 bytes")
		}
		for _, seen := range v.keys {
			if seen.id == k.ID {
				return nil, errors.New("session: duplicate key id " + k.ID)
			}
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
	if b64.DecodedLen(len(encSig)) != sha256.Size {
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
	if alg := gjson.GetBytes(header, "alg"); alg.Type != gjson.String || alg.Str != Algorithm {
		return c, ErrAlgorithm
	}
	kid := gjson.GetBytes(header, "kid")
	if kid.Type != gjson.String {
		return c, ErrUnknownKey
	}
	var mac hash.Hash
	for i := range v.keys {
		if v.keys[i].id == kid.Str {
			mac = v.keys[i].mac
			break
		}
	}
	if mac == nil {
		return c, ErrUnknownKey
	}

	var sig [sha256.Size]byte
	if n, err := b64Strict.Decode(sig[:], []byte(encSig)); err != nil || n != sha256.Size {
		return c, ErrMalformed
	}
	mac.Reset()
	mac.Write([]byte(token[:dot2]))
	if !hmac.Equal(mac.Sum(v.sum[:0]), sig[:]) {
		return c, ErrSignature
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
