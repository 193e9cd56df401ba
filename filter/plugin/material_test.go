package plugin

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
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
