package plugin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/internal/syntax"
	"github.com/svcauth/svcauth/filter/session"
)

// FuzzParseConfig feeds ParseConfig arbitrary documents. Plain `go test` runs
// the seeds; `go test -fuzz FuzzParseConfig ./filter/plugin` explores further.
// Invariants: it never panics; it either rejects with a *ConfigError naming
// at least one problem, or accepts a configuration that the rest of the
// filter can rely on without checking again, the same way every time.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		testConfig(),
		exchangeConfig,
		testConfig("exempt_path_prefixes", []string{"/healthz", "/.well-known/"}, "allow_cors_preflight", true, "clock_skew_seconds", 0),
		testConfig("cookie_name", "sess", "token_header", "x-token", "assertion_header", "x-assertion"),
		`{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + b64(testKey.Secret) + `"},{"kid":"k2","key":"` + b64(otherKey.Secret) + `"}]}`,
		rsaConfig(),
		`{"audience":"` + testAud + `","keys":[{"kid":"r1","alg":"RS256","n":"` + rsaN + `","e":"AQAB","key":"` + b64(testKey.Secret) + `"},{"kid":"k1","key":"` + b64(testKey.Secret) + `"}]}`,
		"", "{", "[]", "{}", "null", `{"audience":1}`, `{"keys":[{}]}`,
		testConfig("issuer", map[string]any{"timeout_ms": 0}),
		testConfig("issuer", map[string]any{"timeout_ms": 1e9}),
		testConfig("token_header", "cf-access-client-id"),
		testConfig("exempt_path_prefixes", []any{"/", 1, "x"}),
		testConfig("clock_skew_seconds", -5),
		`{"audience":"` + testAud + `","audience":"` + testAud + `","keys":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			ce, ok := err.(*ConfigError)
			if !ok || len(ce.Problems) == 0 || c != nil {
				t.Fatalf("rejection %T %v with config %v", err, err, c)
			}
			for _, p := range ce.Problems {
				if p == "" {
					t.Fatal("empty problem")
				}
			}
			return
		}
		again, err := ParseConfig(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("second parse differs: %v %+v", err, again)
		}
		checkAccepted(t, c)
	})
}

func checkAccepted(t *testing.T, c *Config) {
	t.Helper()
	if len(c.Audience) != 64 || strings.Trim(c.Audience, "0123456789abcdef") != "" {
		t.Fatalf("audience %q", c.Audience)
	}
	if len(c.Keys) == 0 {
		t.Fatal("no keys")
	}
	if _, err := session.NewVerifier(c.Audience, c.Keys, c.ClockSkewSeconds); err != nil {
		t.Fatalf("verifier refuses an accepted configuration: %v", err)
	}
	if c.Issuer.TimeoutMS < 1 || c.Issuer.TimeoutMS > MaxTimeoutMS || c.ClockSkewSeconds < 0 || c.ClockSkewSeconds > MaxClockSkewSeconds {
		t.Fatalf("out of range: %+v", c)
	}
	if c.Issuer.Cluster == "" || c.Issuer.Authority == "" || !strings.HasPrefix(c.Issuer.ExchangePath, "/") {
		t.Fatalf("issuer %+v", c.Issuer)
	}
	if !syntax.IsToken(c.CookieName, false) {
		t.Fatalf("cookie name %q", c.CookieName)
	}
	seen := map[string]bool{}
	for _, h := range []struct {
		name     string
		optional bool // "" disables it
	}{{c.TokenHeader, false}, {c.ClientIDHeader, false}, {c.ClientSecretHeader, false}, {c.JSONCredentialsHeader, true}, {c.AssertionHeader, false}} {
		if h.optional && h.name == "" {
			continue
		}
		if !syntax.IsToken(h.name, true) || seen[h.name] {
			t.Fatalf("header name %q invalid or repeated in %+v", h.name, c)
		}
		seen[h.name] = true
	}
	for _, p := range c.ExemptPathPrefixes {
		if !strings.HasPrefix(p, "/") || p == "/" || strings.ContainsAny(p, "?#%\\ ") {
			t.Fatalf("exempt prefix %q", p)
		}
	}
}
