//go:build !wasip1

package plugin

import (
	"crypto/x509"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

func TestConfigReadsRS256PublicKey(t *testing.T) {
	c, err := ParseConfig([]byte(rsaConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Keys) != 1 || c.Keys[0].Public == nil || c.Keys[0].Secret != nil || !c.Keys[0].Public.Equal(&sessiontest.RSAKey(0).PublicKey) {
		t.Fatalf("keys %+v", c.Keys)
	}
}

// TestRS256Session: a filter configured with only an RS256 public key lets
// RS256 sessions through (cookie, token header), and refuses the forgeries
// someone who read its configuration could make: an HS256 token MACed with
// the public key, an RS256 token signed by another key, alg none.
func TestRS256Session(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, rsaConfig())
		tok := signRSA(t, 0, rsaKID, nil)
		for name, hs := range map[string][][2]string{
			"cookie":       get("/api", "cookie", "CF_Authorization="+tok),
			"token header": get("/api", "cf-access-token", tok),
		} {
			t.Run(name, func(t *testing.T) {
				id, action := send(host, hs)
				wantForwarded(t, host, id, action, tok)
				host.CompleteHttpContext(id)
			})
		}
		pub := &sessiontest.RSAKey(0).PublicKey
		der, _ := x509.MarshalPKIXPublicKey(pub)
		parts := strings.Split(tok, ".")
		for _, tc := range []struct{ name, tok, reason string }{
			{"HS256 keyed with the public key", sign(t, session.Key{ID: rsaKID, Secret: der}, nil), "unsupported_alg"},
			{"HS256 keyed with the modulus", sign(t, session.Key{ID: rsaKID, Secret: pub.N.Bytes()}, nil), "unsupported_alg"},
			{"HS256 under a kid the filter lacks", sign(t, testKey, nil), "unknown_kid"},
			{"signed by another RSA key", signRSA(t, 1, rsaKID, nil), "bad_signature"},
			{"alg none", b64([]byte(`{"alg":"none","kid":"r1"}`)) + "." + parts[1] + ".", "unsupported_alg"},
			{"expired", signRSA(t, 0, rsaKID, expired), "expired"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id, action := send(host, get("/api", "cookie", "CF_Authorization="+tc.tok))
				wantReply(t, host, id, action, 401, tc.reason)
				host.CompleteHttpContext(id)
			})
		}
	})
}

// TestRS256ExchangeAndCache: the JWT an exchange returns is verified with
// the public key before it is forwarded and set as the cookie; the cookie
// then passes again (from the verified-session cache) with no callout.
func TestRS256ExchangeAndCache(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, rsaConfig("issuer", exchangeIssuer))
		id, callout := startExchange(t, host, credentialHeaders())
		tok := signRSA(t, 0, rsaKID, nil)
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, nil, issuerAnswer(t, tok))
		wantForwarded(t, host, id, types.ActionContinue, tok)
		host.CompleteHttpContext(id)
		for i := 0; i < 3; i++ {
			id, action := send(host, get("/api", "cookie", "CF_Authorization="+tok))
			wantForwarded(t, host, id, action, tok)
			if c := host.GetCalloutAttributesFromContext(id); len(c) != 0 {
				t.Fatal("cached RS256 session caused a callout")
			}
			host.CompleteHttpContext(id)
		}
		host.Tick() // flushes the counts
		if n, _ := host.GetCounterMetric(outcomeNames[outSessionCached]); n != 3 {
			t.Fatalf("session_cached = %d after 3 cookie requests, want 3: the RS256 session was verified again", n)
		}
		wantCredentialHashKeyed(t, rsaConfig("issuer", exchangeIssuer), tok)

		// An exchange answer signed by a key the filter does not hold is
		// not forwarded.
		id, callout = startExchange(t, host, get("/api", "cf-access-client-id", testClientID, "cf-access-client-secret", newTestSecret(t)))
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, nil,
			issuerAnswer(t, signRSA(t, 1, rsaKID, func(c *session.Claims) { c.ID = "jti-forged" })))
		if r := host.GetSentLocalResponse(id); r == nil || r.StatusCode/100 != 5 {
			t.Fatalf("forged exchange answer: local reply %+v, want a 5xx", r)
		}
		host.CompleteHttpContext(id)
	})
}

// TestRS256SyncUnsigned: with no HS256 key a filter has no secret to sign
// its sync poll with, so it polls unsigned; it learns a rotated RS256 key
// from the answer and drops the retired one.
func TestRS256SyncUnsigned(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, rsaConfig("issuer", map[string]any{"cluster": "issuer_cluster", "authority": "issuer.internal",
			"exchange_path": "/v1/exchange", "sync_path": "/v1/filter-sync", "timeout_ms": 1500}, "sync_period_ms", 1000))
		old, newer := signRSA(t, 0, rsaKID, nil), signRSA(t, 1, rsaKID2, nil)
		now := time.Now().Unix()
		c := tickSync(t, host)
		if sig := header(c.Headers, "x-svcauth-sync"); sig != "" {
			t.Fatalf("RS256-only filter signed its poll: %q", sig)
		}
		st := baseSync("e1")
		st.Keys = []syncKeyAnswer{
			{Kid: rsaKID, Alg: "RS256", N: rsaN, E: "AQAB", ActivatesAt: now - 3600},
			{Kid: rsaKID2, Alg: "RS256", N: rsaN2, E: "AQAB", ActivatesAt: now + 30},
		}
		answerSync(t, host, c, 200, st)
		for _, tok := range []string{old, newer} {
			id, action := send(host, get("/", "cookie", "CF_Authorization="+tok))
			wantForwarded(t, host, id, action, tok)
			host.CompleteHttpContext(id)
		}
		st.Keys, st.Etag = st.Keys[1:], "e2"
		syncOnce(t, host, st)
		id, action := send(host, get("/", "cookie", "CF_Authorization="+old))
		wantReply(t, host, id, action, 401, "unknown_kid")
		host.CompleteHttpContext(id)

		// A sync answer that hands an RS256 key a secret is refused whole.
		bad := baseSync("e3")
		bad.Keys = []syncKeyAnswer{{Kid: rsaKID2, Alg: "RS256", Key: b64(testKey.Secret), N: rsaN2, E: "AQAB"}}
		answerSync(t, host, tickSync(t, host), 200, bad)
		if v, _ := host.GetCounterMetric(metricSyncFailed); v == 0 {
			t.Fatal("sync answer with a secret RS256 key accepted")
		}
		id, action = send(host, get("/", "cookie", "CF_Authorization="+newer))
		wantForwarded(t, host, id, action, newer)
		host.CompleteHttpContext(id)
	})
}

// wantCredentialHashKeyed checks the shared credential table after the
// exchange of credentialHeaders() for tok: the entry is under the hash
// keyed with the proxy's random key in shared data, not under one anybody
// could derive from the configuration (an RS256 configuration holds no
// secret: a hash keyed from it would be public).
func wantCredentialHashKeyed(t *testing.T, config, tok string) {
	t.Helper()
	cfg, err := ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "svcauth/v1/" + cfg.Audience + "/"
	key, _, err := shared.Get(prefix + "credkey")
	if err != nil || len(key) != cache.HashKeyLen {
		t.Fatalf("shared credential hash key: %d bytes, %v", len(key), err)
	}
	real := cache.NewHasher(key, cfg.Audience).Key(testClientID, testSecret)
	v, _, err := shared.Get(prefix + "cred/" + strconv.FormatUint(real.Slot(cfg.CredentialCacheSize), 10))
	if err != nil || v == nil {
		t.Fatalf("no shared entry at the slot of the keyed hash: %v", err)
	}
	if e, ok := cache.DecodeShared(v, real); !ok || e.JWT != tok {
		t.Fatalf("the shared entry does not decode under the keyed hash: %+v %v", e, ok)
	}
	public := cache.NewHasher(cfg.Keys[0].Secret, cfg.Audience).Key(testClientID, testSecret)
	if _, ok := cache.DecodeShared(v, public); ok {
		t.Fatal("the shared entry decodes under a hash keyed from the configuration alone")
	}
}
