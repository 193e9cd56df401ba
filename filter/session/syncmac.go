package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// syncMACContext prefixes the MAC input of a filter's sync request.
const syncMACContext = "svcauth-sync/v1\n"

// SyncMAC is the signature a filter sends with its sync poll
// (filter/SYNC-PROTOCOL.md) and the issuer checks: base64url without padding
// of HMAC-SHA256 over "svcauth-sync/v1\n" + aud + "\n" + ts, keyed with the
// application's session key named by the header's kid. Defined once here so
// that filter and issuer cannot disagree on it.
func SyncMAC(key []byte, aud, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(syncMACContext))
	m.Write([]byte(aud))
	m.Write([]byte{'\n'})
	m.Write([]byte(ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
