package session

import (
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

// svcauthExtraClaims are the claims svcauth adds to Cloudflare's shape
// (SPEC §2): nbf for the validity window, jti and token_id for revocation.
var svcauthExtraClaims = []string{"jti", "nbf", "token_id"}

// TestCloudflareServiceTokenShape: a svcauth session has every header field
// and every claim of a Cloudflare Access service-token JWT (the fixture),
// each with the same JSON type, aud an array of one string, sub empty as
// Cloudflare's is for service tokens; and nothing else but the claims SPEC §2
// adds. Origins that read Cloudflare's assertion read svcauth's the same way.
// Both kinds of session have it; an RS256 one also has Cloudflare's alg.
func TestCloudflareServiceTokenShape(t *testing.T) {
	rs, err := NewRSASigner("app.v1", sessiontest.RSAKey(0))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := NewSigner(Key{ID: "app.v1", Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	for alg, signer := range map[string]*Signer{HS256: hs, RS256: rs} {
		t.Run(alg, func(t *testing.T) { checkCloudflareShape(t, signer, alg) })
	}
}

func checkCloudflareShape(t *testing.T, signer *Signer, alg string) {
	raw, err := os.ReadFile("testdata/cloudflare-service-token.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Header  map[string]any `json:"header"`
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(raw, &fixture); err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Sign(Claims{Type: TypeApp, Audience: "5c2b1a0f",
		Issuer: "https://issuer.example", IssuedAt: 1700000000, NotBefore: 1700000000, ExpiresAt: 1700003600,
		CommonName: "0123456789abcdef0123456789abcdef.access", ID: "jti-1", TokenID: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	header, payload := sessiontest.JWTPart(t, tok, 0), sessiontest.JWTPart(t, tok, 1)

	sameShape(t, "header", fixture.Header, header, nil)
	sameShape(t, "payload", fixture.Payload, payload, svcauthExtraClaims)
	if header["typ"] != "JWT" || header["alg"] != alg {
		t.Errorf("header %v: want typ JWT and alg %s", header, alg)
	}
	if aud, ok := payload["aud"].([]any); !ok || len(aud) != 1 || aud[0] != "5c2b1a0f" {
		t.Errorf("aud = %#v, want a one-element array", payload["aud"])
	}
	if payload["sub"] != "" || payload["type"] != "app" {
		t.Errorf("sub %q, type %q: want \"\" and \"app\"", payload["sub"], payload["type"])
	}
}

// sameShape checks that got has exactly want's fields plus extra, and that
// each of want's has the same JSON type in got.
func sameShape(t *testing.T, what string, want, got map[string]any, extra []string) {
	t.Helper()
	var missing, unexpected []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case jsonType(g) != jsonType(v):
			t.Errorf("%s %q is a JSON %s, Cloudflare's a %s", what, k, jsonType(g), jsonType(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !contains(extra, k) {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	if len(missing) > 0 || len(unexpected) > 0 {
		t.Errorf("%s: missing %v, not in Cloudflare's shape %v", what, missing, unexpected)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case bool:
		return "boolean"
	}
	return "null"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
