package session

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"sync"

	"github.com/svcauth/svcauth/filter/jsonstr"
)

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of c, signed with key. It is used by tests
// and one-off signing; the issuer signs through a Signer per key, and the
// filter only verifies.
func Sign(key Key, c Claims) (string, error) {
	s, err := NewSigner(key)
	if err != nil {
		return "", err
	}
	return s.Sign(c)
}

// Signer signs sessions with one key. It keeps the key's HMAC state ready
// (keyed once, then reset) so that signing allocates only the token: the
// exchange signs one session per request, and a fresh HMAC with its buffers
// was most of the issuer's allocation per exchange (and of its collections).
// It is safe for concurrent use.
type Signer struct {
	key    Key
	rsa    *rsa.PrivateKey // set for an RS256 Signer, whose key.Secret is nil
	states sync.Pool       // of *signState
}

// signState is what one signature works in, reused: the keyed HMAC and the
// buffers it reads and writes (which the hash.Hash interface would make
// escape from the stack).
type signState struct {
	mac   hash.Hash // HMAC-SHA-256 keyed with the Signer's secret (HS256 only)
	token [MaxTokenLength]byte
	sum   [sha256.Size]byte
}

// NewSigner returns the HS256 Signer of key, which needs an id and at
// least 32 bytes of secret, and no public key: the header's alg is the
// key's (Key.Algorithm), so a key with both would sign HMACs labelled
// RS256.
func NewSigner(key Key) (*Signer, error) {
	if key.ID == "" || len(key.Secret) < 32 {
		return nil, errors.New("session: signing key needs an id and at least 32 bytes")
	}
	if key.Public != nil {
		return nil, errors.New("session: an HS256 signing key has no public key (NewRSASigner signs RS256)")
	}
	s := &Signer{key: key}
	s.states.New = func() any { return &signState{mac: hmac.New(sha256.New, key.Secret)} }
	return s, nil
}

// NewRSASigner returns the RS256 Signer of priv, named kid. The issuer holds
// RS256 private keys; filters and origins get only the public half.
func NewRSASigner(kid string, priv *rsa.PrivateKey) (*Signer, error) {
	if kid == "" || priv == nil {
		return nil, errors.New("session: RS256 signing key needs an id and a private key")
	}
	if err := CheckRSAPublicKey(&priv.PublicKey); err != nil {
		return nil, err
	}
	s := &Signer{key: Key{ID: kid, Public: &priv.PublicKey}, rsa: priv}
	s.states.New = func() any { return new(signState) }
	return s, nil
}

// Sign returns the compact JWS of c.
func (s *Signer) Sign(c Claims) (string, error) {
	var buf [MaxTokenLength]byte
	out, err := s.AppendSign(buf[:0], c)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// AppendSign appends the compact JWS of c to dst, allocating nothing when
// dst has room: the issuer signs a session per exchange straight into its
// answer.
func (s *Signer) AppendSign(dst []byte, c Claims) ([]byte, error) {
	if c.Type != TypeApp || c.Audience == "" || c.ExpiresAt <= c.NotBefore {
		return nil, errors.New("session: claims need type app, an audience and exp after nbf")
	}
	// Built on the stack and in the pooled state (the hash.Hash interface
	// would make a buffer on the stack escape).
	var jsonBuf [MaxTokenLength]byte
	header := append(jsonBuf[:0], `{"alg":"`...)
	header = append(header, s.key.Algorithm()...)
	header = append(header, `","kid":`...)
	header = jsonstr.Append(header, s.key.ID)
	header = append(header, `,"typ":"JWT"}`...)

	payload := header[len(header):]
	payload = append(payload, `{"type":`...)
	payload = jsonstr.Append(payload, c.Type)
	payload = append(payload, `,"aud":[`...)
	payload = jsonstr.Append(payload, c.Audience)
	payload = append(payload, `],"iss":`...)
	payload = jsonstr.Append(payload, c.Issuer)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, c.IssuedAt, 10)
	payload = append(payload, `,"nbf":`...)
	payload = strconv.AppendInt(payload, c.NotBefore, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, c.ExpiresAt, 10)
	payload = append(payload, `,"common_name":`...)
	payload = jsonstr.Append(payload, c.CommonName)
	payload = append(payload, `,"sub":`...)
	payload = jsonstr.Append(payload, c.Subject)
	payload = append(payload, `,"jti":`...)
	payload = jsonstr.Append(payload, c.ID)
	payload = append(payload, `,"token_id":`...)
	payload = jsonstr.Append(payload, c.TokenID)
	payload = append(payload, '}')

	sigLen := sha256.Size
	if s.rsa != nil {
		sigLen = s.rsa.Size()
	}
	if b64.EncodedLen(len(header))+b64.EncodedLen(len(payload))+2+b64.EncodedLen(sigLen) > MaxTokenLength {
		return nil, errors.New("session: claims too long for a session token")
	}
	st := s.states.Get().(*signState)
	defer s.states.Put(st)
	out := b64.AppendEncode(st.token[:0], header)
	out = append(out, '.')
	out = b64.AppendEncode(out, payload)
	var sig []byte
	if s.rsa != nil {
		digest := sha256.Sum256(out)
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, digest[:]); err != nil {
			return nil, errors.New("session: RS256 signing failed: " + err.Error())
		}
	} else {
		st.mac.Reset()
		st.mac.Write(out)
		sig = st.mac.Sum(st.sum[:0])
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig)
	return append(dst, out...), nil
}
