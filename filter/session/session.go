// Package session defines the svcauth session token: a compact JWS (HS256, or
// RS256 for applications whose origins verify it with a JWKS) whose claims
// match Cloudflare Access service-token JWTs. The issuer signs it and the
// filter verifies it with the same code, so the two can never drift.
//
// The package is compiled into the proxy-wasm filter, where parsing and crypto
// cost about 15x more than natively: it avoids encoding/json and reflection,
// decodes into fixed-size stack buffers, and reuses keyed HMAC state. RS256
// costs an order of magnitude more to verify than HS256 (measured in
// docs/performance.md, "RS256 sessions"), which is why the filter caches
// verified sessions.
package session

import "crypto/rsa"

// Claims are the JWT claims svcauth issues (SPEC §2).
type Claims struct {
	Type       string // always "app"
	Audience   string // the application's aud tag; serialised as a one-element array
	Issuer     string
	IssuedAt   int64 // seconds since the Unix epoch
	NotBefore  int64
	ExpiresAt  int64
	CommonName string // the service token's client id
	Subject    string // always "" for service tokens
	ID         string // jti
	TokenID    string // the service token's id
}

// TypeApp is the only token type svcauth issues and accepts.
const TypeApp = "app"

// The JWS algorithms svcauth issues and accepts; a key has one, and a token
// whose alg is not its key's is refused.
const (
	HS256 = "HS256"
	RS256 = "RS256"
)

// MaxTokenLength bounds what Verify will look at: svcauth tokens are about
// 500 bytes, and a bound keeps attacker-controlled input out of the heap.
const MaxTokenLength = 2048

// Key is one verification key with the id that names it in the JWT header:
// an HMAC secret (HS256), or, when Public is set, an RSA public key (RS256,
// Secret unused). Filters only ever hold the public half of an RS256 key.
type Key struct {
	ID     string
	Secret []byte
	Public *rsa.PublicKey
}

// Algorithm returns the JWS alg of tokens signed with k.
func (k Key) Algorithm() string {
	if k.Public != nil {
		return RS256
	}
	return HS256
}

// Error is a verification failure; Reason is a stable, secret-free code that
// the filter puts in its 401 body and its stats.
type Error struct{ Reason string }

func (e *Error) Error() string { return "session token rejected: " + e.Reason }

// Verification failures. Callers compare with ==.
var (
	ErrMalformed   = &Error{"malformed_token"}
	ErrAlgorithm   = &Error{"unsupported_alg"}
	ErrUnknownKey  = &Error{"unknown_kid"}
	ErrSignature   = &Error{"bad_signature"}
	ErrAudience    = &Error{"wrong_audience"}
	ErrExpired     = &Error{"expired"}
	ErrNotYetValid = &Error{"not_yet_valid"}
	ErrClaims      = &Error{"bad_claims"}
)
