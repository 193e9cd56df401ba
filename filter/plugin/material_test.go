package plugin

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

// Test material. Keys and audience are fixed; tokens are signed relative to
// the real clock, which is also what the emulator reports as request.time.
var (
	testKey      = session.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	otherKey     = session.Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
	testAud      = strings.Repeat("ab", 32)
	testClientID = "0123456789abcdef0123456789abcdef.access"
	testSecret   = credential.NewSecret()
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// testConfig returns the plugin configuration JSON: audience and testKey,
// with fields overridden or added by the pairs in kv (name, value, ...).
func testConfig(kv ...any) string {
	doc := map[string]any{
		"audience": testAud,
		"keys":     []map[string]string{{"kid": testKey.ID, "key": b64(testKey.Secret)}},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		doc[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// exchangeIssuer is the issuer section of the tests' configurations.
var exchangeIssuer = map[string]any{"cluster": "issuer_cluster", "authority": "issuer.internal", "exchange_path": "/v1/exchange", "timeout_ms": 1500}

// exchangeConfig names an issuer cluster and enables the JSON header.
var exchangeConfig = testConfig("issuer", exchangeIssuer, "json_credentials_header", "x-svcauth-credentials")

// mistyped returns secret with its last character changed to another one,
// which the checksum catches. (Appending a fixed character instead fails one
// run in 62: when the secret already ends with it, nothing changes.)
func mistyped(secret string) string {
	last := secret[len(secret)-1]
	c := byte('x')
	if last == c {
		c = 'y'
	}
	return secret[:len(secret)-1] + string(c)
}

// RS256 material: the public halves of the fixed test keys, as the issuer
// publishes them (JWK n and e).
var (
	rsaKID, rsaKID2 = "r1", "r2"
	rsaN, _         = session.RSAPublicJWK(&sessiontest.RSAKey(0).PublicKey)
	rsaN2, _        = session.RSAPublicJWK(&sessiontest.RSAKey(1).PublicKey)
)

// rsaConfig is a configuration with one RS256 public key and no secret.
func rsaConfig(kv ...any) string {
	return testConfig(append([]any{"keys", []map[string]string{{"kid": rsaKID, "alg": "RS256", "n": rsaN, "e": "AQAB"}}}, kv...)...)
}

// signRSA returns an RS256 session signed with test key i as kid.
func signRSA(t testing.TB, i int, kid string, edit func(*session.Claims)) string {
	t.Helper()
	s, err := session.NewRSASigner(kid, sessiontest.RSAKey(i))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	c := session.Claims{Type: session.TypeApp, Audience: testAud, Issuer: "https://issuer.test",
		IssuedAt: now, NotBefore: now, ExpiresAt: now + 3600, CommonName: testClientID, ID: "jti-rs", TokenID: "tok-1"}
	if edit != nil {
		edit(&c)
	}
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
