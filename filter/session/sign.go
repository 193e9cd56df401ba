package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/svcauth/svcauth/filter/jsonstr"
)

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of c, signed with key. It is used by the issuer
// (and by tests); the filter only verifies.
func Sign(key Key, c Claims) (string, error) {
	if key.ID == "" || len(key.Secret) < 32 {
		return "", errors.New("session: signing key needs an id and at least 32 bytes")
	}
	if c.Type != TypeApp || c.Audience == "" || c.ExpiresAt <= c.NotBefore {
		return "", errors.New("session: claims need type app, an audience and exp after nbf")
	}
	header := make([]byte, 0, 64)
	header = append(header, `{"alg":"HS256","kid":`...)
	header = jsonstr.Append(header, key.ID)
	header = append(header, `,"typ":"JWT"}`...)

	payload := make([]byte, 0, 384)
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

	out := make([]byte, 0, b64.EncodedLen(len(header))+b64.EncodedLen(len(payload))+2+b64.EncodedLen(sha256.Size))
	out = b64.AppendEncode(out, header)
	out = append(out, '.')
	out = b64.AppendEncode(out, payload)
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(out)
	out = append(out, '.')
	out = b64.AppendEncode(out, mac.Sum(nil))
	if len(out) > MaxTokenLength {
		return "", errors.New("session: claims too long for a session token")
	}
	return string(out), nil
}
