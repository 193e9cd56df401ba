//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/session"
)

func TestValidSession(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig())
		tok := sign(t, testKey, nil)
		cases := []struct {
			name    string
			headers [][2]string
		}{
			{"cookie", get("/api", "cookie", "CF_Authorization="+tok)},
			{"cookie among others", get("/api", "cookie", "a=1; CF_Authorization="+tok+"; b=2")},
			{"quoted cookie", get("/api", "cookie", `theme=dark;CF_Authorization="`+tok+`"`)},
			{"second cookie header", get("/api", "cookie", "a=1", "cookie", "CF_Authorization="+tok)},
			{"stale cookie then fresh one", get("/api", "cookie", "CF_Authorization="+sign(t, testKey, expired)+"; CF_Authorization="+tok)},
			{"token header", get("/api", "cf-access-token", tok)},
			{"token header and cookie of another app", get("/api", "cf-access-token", tok, "cookie", "CF_Authorization=x.y.z")},
			{"client assertion replaced", get("/api", "cookie", "CF_Authorization="+tok,
				"cf-access-jwt-assertion", "forged", "cf-access-jwt-assertion", "forged2")},
			{"secret stripped", get("/api", "cookie", "CF_Authorization="+tok,
				"cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id, action := send(host, tc.headers)
				wantForwarded(t, host, id, action, tok)
				if c := host.GetCalloutAttributesFromContext(id); len(c) != 0 {
					t.Fatal("valid session caused a callout")
				}
				host.CompleteHttpContext(id)
			})
		}
	})
}

func expired(c *session.Claims) {
	c.IssuedAt -= 7200
	c.NotBefore -= 7200
	c.ExpiresAt = time.Now().Unix() - 60
}

func TestInvalidSession(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig())
		good := sign(t, testKey, nil)
		parts := strings.Split(good, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[5] ^= 0x10
		tampered := parts[0] + "." + parts[1] + "." + b64(sig)
		header := func(h string) string { return b64([]byte(h)) }
		cases := []struct {
			name, token, reason string
		}{
			{"tampered signature", tampered, "bad_signature"},
			{"tampered payload", parts[0] + "." + b64([]byte(`{"type":"app","aud":["`+testAud+`"],"exp":9999999999,"nbf":0}`)) + "." + parts[2], "bad_signature"},
			{"wrong kid", sign(t, otherKey, nil), "unknown_kid"},
			{"right kid wrong key", sign(t, session.Key{ID: testKey.ID, Secret: otherKey.Secret}, nil), "bad_signature"},
			{"alg none", header(`{"alg":"none","kid":"k1"}`) + "." + parts[1] + ".", "unsupported_alg"},
			{"alg none with signature", header(`{"alg":"none","kid":"k1"}`) + "." + parts[1] + "." + parts[2], "unsupported_alg"},
			{"alg RS256", header(`{"alg":"RS256","kid":"k1"}`) + "." + parts[1] + "." + parts[2], "unsupported_alg"},
			{"wrong audience", sign(t, testKey, func(c *session.Claims) { c.Audience = strings.Repeat("cd", 32) }), "wrong_audience"},
			{"expired", sign(t, testKey, expired), "expired"},
			{"not yet valid", sign(t, testKey, func(c *session.Claims) { c.NotBefore += 600; c.ExpiresAt += 600 }), "not_yet_valid"},
			{"garbage", "not-a-jwt", "malformed_token"},
		}
		for _, tc := range cases {
			for _, style := range []string{"cookie", "header"} {
				t.Run(tc.name+"/"+style, func(t *testing.T) {
					hs := get("/api", "cookie", "CF_Authorization="+tc.token)
					if style == "header" {
						hs = get("/api", "cf-access-token", tc.token)
					}
					id, action := send(host, hs)
					wantReply(t, host, id, action, 401, tc.reason)
				})
			}
		}
	})
}

func TestSkewAllowance(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig("clock_skew_seconds", 120))
		tok := sign(t, testKey, func(c *session.Claims) { c.NotBefore += 60; c.ExpiresAt += 60 })
		id, action := send(host, get("/", "cookie", "CF_Authorization="+tok))
		wantForwarded(t, host, id, action, tok)
	})
}

func TestCredentialProblems(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig("json_credentials_header", "x-svcauth-credentials"))
		jsonCreds := `{"cf-access-client-id":"` + testClientID + `","cf-access-client-secret":"` + testSecret + `"}`
		cases := []struct {
			name    string
			headers [][2]string
			reason  string
		}{
			{"nothing", get("/api"), "missing_credentials"},
			{"other cookies only", get("/api", "cookie", "a=1; b=2"), "missing_credentials"},
			{"only id", get("/api", "cf-access-client-id", testClientID), "partial_credentials"},
			{"only secret", get("/api", "cf-access-client-secret", testSecret), "partial_credentials"},
			{"duplicate id", get("/api", "cf-access-client-id", testClientID, "cf-access-client-id", testClientID,
				"cf-access-client-secret", testSecret), "duplicate_credentials"},
			{"duplicate secret", get("/api", "cf-access-client-id", testClientID,
				"cf-access-client-secret", testSecret, "cf-access-client-secret", testSecret), "duplicate_credentials"},
			{"duplicate json", get("/api", "x-svcauth-credentials", jsonCreds, "x-svcauth-credentials", jsonCreds), "duplicate_credentials"},
			{"both styles", get("/api", "cf-access-client-id", testClientID, "cf-access-client-secret", testSecret,
				"x-svcauth-credentials", jsonCreds), "conflicting_credentials"},
			{"json and a lone secret", get("/api", "cf-access-client-secret", testSecret, "x-svcauth-credentials", jsonCreds), "conflicting_credentials"},
			{"malformed secret", get("/api", "cf-access-client-id", testClientID, "cf-access-client-secret", mistyped(testSecret)), "malformed_credentials"},
			{"random secret", get("/api", "cf-access-client-id", testClientID, "cf-access-client-secret", "hunter2"), "malformed_credentials"},
			{"malformed id", get("/api", "cf-access-client-id", "someone", "cf-access-client-secret", testSecret), "malformed_credentials"},
			{"upper-case id", get("/api", "cf-access-client-id", strings.ToUpper(testClientID[:32])+".access", "cf-access-client-secret", testSecret), "malformed_credentials"},
			{"json not json", get("/api", "x-svcauth-credentials", "id:secret"), "malformed_credentials"},
			{"json partial", get("/api", "x-svcauth-credentials", `{"cf-access-client-id":"`+testClientID+`"}`), "partial_credentials"},
			{"json empty", get("/api", "x-svcauth-credentials", `{}`), "missing_credentials"},
			{"json wrong types", get("/api", "x-svcauth-credentials", `{"cf-access-client-id":1,"cf-access-client-secret":2}`), "malformed_credentials"},
			{"invalid session, no credentials", get("/api", "cookie", "CF_Authorization="+sign(t, otherKey, nil)), "unknown_kid"},
			{"invalid session, partial credentials", get("/api", "cookie", "CF_Authorization="+sign(t, otherKey, nil),
				"cf-access-client-id", testClientID), "partial_credentials"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id, action := send(host, tc.headers)
				wantReply(t, host, id, action, 401, tc.reason)
				wantNoSecrets(t, host.GetCurrentRequestHeaders(id))
			})
		}
	})
}

func TestExemptRequests(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig(
			"exempt_path_prefixes", []string{"/healthz", "/public/"},
			"allow_cors_preflight", true,
			"json_credentials_header", "x-svcauth-credentials"))
		strip := []string{
			"cf-access-jwt-assertion", "forged",
			"cf-access-client-id", testClientID, "cf-access-client-secret", testSecret,
			"x-svcauth-credentials", `{"cf-access-client-secret":"` + testSecret + `"}`,
		}
		pass := []struct {
			name    string
			headers [][2]string
		}{
			{"prefix", get("/healthz", strip...)},
			{"prefix with query", get("/healthz?full=1", strip...)},
			{"prefix subtree", get("/public/logo.png", strip...)},
			{"cors preflight", append(get("/api", strip...), [2]string{"origin", "https://ui.test"},
				[2]string{"access-control-request-method", "POST"})},
		}
		for _, tc := range pass {
			t.Run(tc.name, func(t *testing.T) {
				tc.headers[0][1] = "GET"
				if strings.HasPrefix(tc.name, "cors") {
					tc.headers[0][1] = "OPTIONS"
				}
				id, action := send(host, tc.headers)
				wantForwarded(t, host, id, action, "")
				if got := values(host.GetCurrentRequestHeaders(id), "cf-access-client-id"); len(got) != 1 {
					t.Fatalf("client id header should pass untouched, got %q", got)
				}
			})
		}
		refuse := []struct {
			name    string
			headers [][2]string
		}{
			{"query does not count", get("/api?x=/healthz")},
			{"dot segments", get("/public/../admin")},
			{"encoded dot segments", get("/public/%2E%2E/admin")},
			{"encoded slash", get("/public%2f..%2fadmin")},
			{"backslash", get("/public/..\\admin")},
			{"options without origin", append(get("/api"), [2]string{"access-control-request-method", "POST"})},
			{"options without request method", append(get("/api"), [2]string{"origin", "https://ui.test"})},
		}
		for _, tc := range refuse {
			t.Run(tc.name, func(t *testing.T) {
				tc.headers[0][1] = "OPTIONS"
				id, action := send(host, tc.headers)
				wantReply(t, host, id, action, 401, "missing_credentials")
			})
		}
	})
}

// TestCORSPreflightWithoutExemptPaths: preflights pass with no exempt prefix
// configured (the header index then reads the method and the CORS headers,
// and not the path).
func TestCORSPreflightWithoutExemptPaths(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig("allow_cors_preflight", true))
		hs := append(get("/api"), [2]string{"origin", "https://ui.test"}, [2]string{"access-control-request-method", "POST"})
		hs[0][1] = "OPTIONS"
		id, action := send(host, hs)
		wantForwarded(t, host, id, action, "")
		notOptions := get("/api", "origin", "https://ui.test", "access-control-request-method", "POST")
		id, action = send(host, notOptions)
		wantReply(t, host, id, action, 401, "missing_credentials")
	})
}

func TestCORSPreflightNeedsOptIn(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig())
		hs := append(get("/api"), [2]string{"origin", "https://ui.test"}, [2]string{"access-control-request-method", "POST"})
		hs[0][1] = "OPTIONS"
		id, action := send(host, hs)
		wantReply(t, host, id, action, 401, "missing_credentials")
	})
}

func TestCustomNames(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig("cookie_name", "sess", "token_header", "x-token",
			"assertion_header", "x-assertion", "client_secret_header", "x-secret"))
		tok := sign(t, testKey, nil)
		for _, hs := range [][][2]string{
			get("/", "cookie", "sess="+tok, "x-assertion", "forged", "x-secret", testSecret),
			get("/", "x-token", tok, "x-assertion", "forged", "x-secret", testSecret),
		} {
			id, action := send(host, hs)
			if action != types.ActionContinue {
				t.Fatalf("action %v", action)
			}
			got := host.GetCurrentRequestHeaders(id)
			if a := values(got, "x-assertion"); len(a) != 1 || a[0] != tok {
				t.Fatalf("x-assertion %q", a)
			}
			if s := values(got, "x-secret"); len(s) != 0 {
				t.Fatalf("x-secret reached the upstream")
			}
		}
		id, action := send(host, get("/", "cookie", "CF_Authorization="+tok))
		wantReply(t, host, id, action, 401, "missing_credentials")
	})
}

// TestPluginStartsClean checks that a plugin context starts from its own
// configuration: the wasm module instance is shared by every test, and a
// second emulator must not see the first one's settings.
func TestPluginStartsClean(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		tok := sign(t, testKey, nil)
		t.Run("first", func(t *testing.T) {
			host := startHost(t, vm, testConfig("cookie_name", "sess"))
			id, action := send(host, get("/", "cookie", "sess="+tok))
			wantForwarded(t, host, id, action, tok)
		})
		t.Run("second", func(t *testing.T) {
			host := startHost(t, vm, testConfig())
			id, action := send(host, get("/", "cookie", "sess="+tok))
			wantReply(t, host, id, action, 401, "missing_credentials")
			id, action = send(host, get("/", "cookie", "CF_Authorization="+tok))
			wantForwarded(t, host, id, action, tok)
		})
		t.Run("failed start leaves nothing behind", func(t *testing.T) {
			host := newHost(t, vm, `{"audience":"nope"}`)
			if host.StartPlugin() != types.OnPluginStartStatusFailed {
				t.Fatal("bad configuration started")
			}
			// Envoy never runs a plugin that failed to start; if a host did,
			// the filter fails closed instead of using an older configuration.
			id, action := send(host, get("/", "cookie", "CF_Authorization="+tok))
			wantReply(t, host, id, action, 503, "filter_not_configured")
		})
	})
}

func TestBadConfiguration(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		cases := []struct {
			name, config string
			want         []string
		}{
			{"empty", "", []string{"svcauth: invalid plugin configuration: configuration is empty: audience and keys are required"}},
			{"not json", "{", []string{"configuration is not valid JSON"}},
			{"several problems", testConfig("issuer", map[string]any{"cluster": "", "timeout_ms": 0}, "cookie_name", "a;b", "colour", "blue"), []string{
				"issuer.cluster: must be a non-empty Envoy cluster name without spaces",
				"issuer.timeout_ms: must be an integer from 1 to 60000",
				"cookie_name: must be a cookie name",
				`"colour": unknown field`,
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				host := newHost(t, vm, tc.config)
				if host.StartPlugin() != types.OnPluginStartStatusFailed {
					t.Fatal("bad configuration started")
				}
				logs := host.GetCriticalLogs()
				if len(logs) != 1 {
					t.Fatalf("critical logs %q, want one", logs)
				}
				for _, w := range tc.want {
					if !strings.Contains(logs[0], w) {
						t.Errorf("critical log %q does not mention %q", logs[0], w)
					}
				}
			})
		}
	})
}

func TestResponseUntouchedWithoutExchange(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig())
		tok := sign(t, testKey, nil)
		id, _ := send(host, get("/", "cookie", "CF_Authorization="+tok))
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		if c := values(host.GetCurrentResponseHeaders(id), "set-cookie"); len(c) != 0 {
			t.Fatalf("set-cookie without an exchange: %q", c)
		}
	})
}

func TestRequestBody(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig())
		post := func(extra ...string) [][2]string {
			hs := get("/api", extra...)
			hs[0][1] = "POST"
			return hs
		}
		tok := sign(t, testKey, nil)
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, post("cookie", "CF_Authorization="+tok), false); a != types.ActionContinue {
			t.Fatalf("headers: %v", a)
		}
		if a := host.CallOnRequestBody(id, []byte("data"), true); a != types.ActionContinue {
			t.Fatalf("body of an authenticated request: %v", a)
		}
		id = host.InitializeHttpContext()
		action := host.CallOnRequestHeaders(id, post(), false)
		wantReply(t, host, id, action, 401, "missing_credentials")
		if a := host.CallOnRequestBody(id, []byte("data"), true); a != types.ActionPause {
			t.Fatalf("body of a refused request: %v", a)
		}
		if a := host.CallOnRequestTrailers(id, [][2]string{{"grpc-status", "0"}}); a != types.ActionPause {
			t.Fatalf("trailers of a refused request: %v", a)
		}
	})
}
