//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
)

// syncConfig is exchangeConfig with a sync path and period.
var syncConfig = testConfig(
	"issuer", map[string]any{"cluster": "issuer_cluster", "authority": "issuer.internal", "exchange_path": "/v1/exchange",
		"sync_path": "/v1/filter-sync", "timeout_ms": 1500},
	"sync_period_ms", 1000)

// syncBody is a sync answer (filter/SYNC-PROTOCOL.md).
type syncBody struct {
	Etag              string          `json:"etag"`
	GeneratedAt       int64           `json:"generated_at"`
	SessionsNotBefore int64           `json:"sessions_not_before"`
	RevokedTokens     []revokedToken  `json:"revoked_tokens"`
	DisabledTokens    []string        `json:"disabled_tokens"`
	SecretGraceEnds   []graceEnd      `json:"secret_grace_ends,omitempty"`
	Keys              []syncKeyAnswer `json:"keys"`
}

type graceEnd struct {
	TokenID                 string `json:"token_id"`
	PreviousSecretExpiresAt int64  `json:"previous_secret_expires_at"`
}

type revokedToken struct {
	TokenID   string `json:"token_id"`
	RevokedAt int64  `json:"revoked_at"`
}

type syncKeyAnswer struct {
	Kid         string `json:"kid"`
	Key         string `json:"key,omitempty"`
	Alg         string `json:"alg,omitempty"`
	N           string `json:"n,omitempty"`
	E           string `json:"e,omitempty"`
	ActivatesAt int64  `json:"activates_at"`
}

func baseSync(etag string) syncBody {
	return syncBody{
		Etag: etag, GeneratedAt: time.Now().Unix(),
		RevokedTokens: []revokedToken{}, DisabledTokens: []string{},
		Keys: []syncKeyAnswer{{Kid: testKey.ID, Key: b64(testKey.Secret), ActivatesAt: time.Now().Unix() - 3600}},
	}
}

// tickSync ticks and returns the sync callout the tick dispatched.
func tickSync(t *testing.T, host proxytest.HostEmulator) proxytest.HttpCalloutAttribute {
	t.Helper()
	before := len(host.GetCalloutAttributesFromContext(proxytest.PluginContextID))
	host.Tick()
	callouts := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
	if len(callouts) != before+1 {
		t.Fatalf("tick dispatched %d callouts, want 1", len(callouts)-before)
	}
	return callouts[len(callouts)-1]
}

// answerSync answers a sync callout with status and (for 200) body.
func answerSync(t *testing.T, host proxytest.HostEmulator, c proxytest.HttpCalloutAttribute, status int, body any) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	headers := [][2]string{{":status", strconv.Itoa(status)}, {"content-type", "application/json"},
		{"date", time.Now().UTC().Format(httpDateLayout)}}
	host.CallOnHttpCallResponse(c.CalloutID, headers, nil, b)
}

func syncOnce(t *testing.T, host proxytest.HostEmulator, body syncBody) {
	t.Helper()
	answerSync(t, host, tickSync(t, host), 200, body)
}

func header(hs [][2]string, name string) string {
	for _, h := range hs {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}

func TestSyncRequest(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		if p := host.GetTickPeriod(); p != 1000 {
			t.Fatalf("tick period %d, want sync_period_ms 1000", p)
		}
		c := tickSync(t, host)
		if c.Upstream != "issuer_cluster" {
			t.Fatalf("sync callout to %q", c.Upstream)
		}
		if header(c.Headers, ":method") != "GET" || header(c.Headers, ":path") != "/v1/filter-sync?aud="+testAud ||
			header(c.Headers, ":authority") != "issuer.internal" || header(c.Headers, "if-none-match") != "" {
			t.Fatalf("sync headers %q", c.Headers)
		}
		sig := strings.Split(header(c.Headers, "x-svcauth-sync"), ":")
		if len(sig) != 3 || sig[0] != testKey.ID {
			t.Fatalf("x-svcauth-sync %q", header(c.Headers, "x-svcauth-sync"))
		}
		ts, _ := strconv.ParseInt(sig[1], 10, 64)
		if d := time.Now().Unix() - ts; d < -2 || d > 2 {
			t.Fatalf("signature timestamp %d is %d s off", ts, d)
		}
		m := hmac.New(sha256.New, testKey.Secret)
		m.Write([]byte("svcauth-sync/v1\n" + testAud + "\n" + sig[1]))
		if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); sig[2] != want {
			t.Fatalf("signature %q, want %q", sig[2], want)
		}
		if len(c.Body) != 0 {
			t.Fatalf("sync GET with a body %q", c.Body)
		}
		answerSync(t, host, c, 200, baseSync("e1"))

		c = tickSync(t, host)
		if inm := header(c.Headers, "if-none-match"); inm != `"e1"` {
			t.Fatalf("if-none-match %q, want \"e1\"", inm)
		}
		answerSync(t, host, c, 304, nil)
		host.Tick() // flushes the counters
		if n, _ := host.GetCounterMetric(metricSyncOK); n != 1 {
			t.Fatalf("%s = %d", metricSyncOK, n)
		}
		if n, _ := host.GetCounterMetric(metricSyncNotModified); n != 1 {
			t.Fatalf("%s = %d", metricSyncNotModified, n)
		}
		if n, _ := host.GetGaugeMetric(metricSyncAge); n > 2 {
			t.Fatalf("%s = %d", metricSyncAge, n)
		}
		if logs := host.GetErrorLogs(); len(logs) != 0 {
			t.Fatalf("error logs %q", logs)
		}
	})
}

func TestRevocationApplied(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		now := time.Now().Unix()
		tok1 := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1"; c.IssuedAt = now - 100 })
		tok2 := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-2"; c.IssuedAt = now - 100 })
		tok3 := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-3"; c.IssuedAt = now - 100 })
		tok3later := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-3"; c.IssuedAt = now - 10; c.ID = "later" })
		cookie := func(tok string) [][2]string { return get("/api", "cookie", "CF_Authorization="+tok) }
		expect := func(tok string, status uint32) {
			t.Helper()
			id, action := send(host, cookie(tok))
			if status == 200 {
				wantForwarded(t, host, id, action, tok)
			} else {
				wantReply(t, host, id, action, status, "revoked")
			}
			host.CompleteHttpContext(id)
		}
		for _, tok := range []string{tok1, tok2, tok3, tok3later} {
			expect(tok, 200) // verified, and now cached
			expect(tok, 200) // cached
		}

		st := baseSync("e1")
		st.DisabledTokens = []string{"tok-1"}
		st.RevokedTokens = []revokedToken{{TokenID: "tok-3", RevokedAt: now - 50}}
		syncOnce(t, host, st)
		expect(tok1, 401)
		expect(tok2, 200)
		expect(tok3, 401)
		expect(tok3later, 200) // issued after the revocation
		// A token never seen before is refused after its HMAC check too.
		fresh := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1"; c.ID = "fresh" })
		expect(fresh, 401)

		st = baseSync("e2")
		st.SessionsNotBefore = now - 50
		syncOnce(t, host, st)
		expect(tok1, 401) // iat before sessions_not_before
		expect(tok2, 401)
		expect(tok3later, 200)

		syncOnce(t, host, baseSync("e3")) // everything lifted
		for _, tok := range []string{tok1, tok2, tok3} {
			expect(tok, 200)
		}
		host.Tick()
		if n, _ := host.GetCounterMetric(metricUnauthorizedPrefix + "revoked"); n != 5 {
			t.Fatalf("%srevoked = %d, want 5", metricUnauthorizedPrefix, n)
		}
		if n, _ := host.GetCounterMetric(outcomeNames[outSessionCached]); n < 8 {
			t.Fatalf("session_cached = %d", n)
		}
	})
}

func TestSyncKeys(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		now := time.Now().Unix()
		old := sign(t, testKey, nil)
		newer := sign(t, otherKey, nil)
		send1 := func(tok string) (uint32, types.Action) {
			return send(host, get("/", "cookie", "CF_Authorization="+tok))
		}
		id, a := send1(old)
		wantForwarded(t, host, id, a, old)
		id, a = send1(newer)
		wantReply(t, host, id, a, 401, "unknown_kid")

		// The issuer publishes k2 (pending): accepted at once, not used to sign syncs.
		st := baseSync("e1")
		st.Keys = append(st.Keys, syncKeyAnswer{Kid: otherKey.ID, Key: b64(otherKey.Secret), ActivatesAt: now + 30})
		syncOnce(t, host, st)
		id, a = send1(newer)
		wantForwarded(t, host, id, a, newer)
		if c := tickSync(t, host); !strings.HasPrefix(header(c.Headers, "x-svcauth-sync"), testKey.ID+":") {
			t.Fatalf("sync signed with %q, want the active key", header(c.Headers, "x-svcauth-sync"))
		} else {
			st.Keys[1].ActivatesAt = now - 1 // k2 now signs
			st.Etag = "e2"
			answerSync(t, host, c, 200, st)
		}
		if c := tickSync(t, host); !strings.HasPrefix(header(c.Headers, "x-svcauth-sync"), otherKey.ID+":") {
			t.Fatalf("sync signed with %q, want the newest active key", header(c.Headers, "x-svcauth-sync"))
		} else {
			// k1 retired: its sessions are refused, even the cached one.
			st.Keys = st.Keys[1:]
			st.Etag = "e3"
			answerSync(t, host, c, 200, st)
		}
		id, a = send1(old)
		wantReply(t, host, id, a, 401, "unknown_kid")
		id, a = send1(newer)
		wantForwarded(t, host, id, a, newer)
		host.Tick()
		if v, _ := host.GetGaugeMetric(metricKeysPublished); v != 1 {
			t.Fatalf("%s = %d", metricKeysPublished, v)
		}
	})
}

func TestSyncRefusesBadAnswers(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		st := baseSync("e1")
		st.DisabledTokens = []string{"tok-1"}
		syncOnce(t, host, st)
		for _, body := range []any{
			map[string]any{"etag": "x", "keys": []any{}},
			map[string]any{"etag": "x", "keys": []map[string]any{{"kid": "k9", "key": "c2hvcnQ"}}},
			map[string]any{"etag": "x", "disabled_tokens": "tok-1", "keys": st.Keys},
			map[string]any{"etag": 1, "keys": st.Keys},
			"not an object",
		} {
			answerSync(t, host, tickSync(t, host), 200, body)
		}
		// The previous state stays: tok-1 is still disabled, k1 still accepted.
		id, a := send(host, get("/", "cookie", "CF_Authorization="+sign(t, testKey, nil)))
		wantReply(t, host, id, a, 401, "revoked")
		if warns := strings.Join(host.GetWarnLogs(), "\n"); strings.Count(warns, "unusable") != 5 {
			t.Fatalf("warn logs %q", warns)
		}
	})
}

func TestIssuerOutage(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		syncOnce(t, host, baseSync("e1"))
		tok := sign(t, testKey, nil)
		cookie := get("/", "cookie", "CF_Authorization="+tok)
		id, a := send(host, cookie)
		wantForwarded(t, host, id, a, tok)

		// Issuer down for three periods: a failed sync on each tick.
		for i := 0; i < 3; i++ {
			host.CallOnHttpCallResponse(tickSync(t, host).CalloutID, nil, nil, nil)
			for j := 0; j < 5; j++ {
				id, a := send(host, cookie)
				wantForwarded(t, host, id, a, tok) // sessions keep working
				id, callout := startExchange(t, host, credentialHeaders())
				host.CallOnHttpCallResponse(callout.CalloutID, nil, nil, nil)
				wantLocalReply(t, host, id, 503, "issuer_unreachable")
			}
		}
		warns := host.GetWarnLogs()
		if n := countContaining(warns, "issuer outage"); n != 3 {
			t.Fatalf("%d outage lines for 3 periods and 15 failed exchanges, want 3 (one per period): %q", n, warns)
		}
		host.Tick() // (its callout is left unanswered: in flight)
		if v, _ := host.GetGaugeMetric(metricIssuerDown); v != 1 {
			t.Fatalf("%s = %d", metricIssuerDown, v)
		}
		if n, _ := host.GetCounterMetric(metricUnavailablePrefix + "issuer_unreachable"); n != 15 {
			t.Fatalf("unavailable.issuer_unreachable = %d", n)
		}

		// Back: the next answered poll resyncs.
		callouts := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
		answerSync(t, host, callouts[len(callouts)-1], 200, baseSync("e2"))
		if infos := strings.Join(host.GetInfoLogs(), "\n"); !strings.Contains(infos, "answers again") {
			t.Fatalf("no recovery line in %q", infos)
		}
		host.Tick()
		if v, _ := host.GetGaugeMetric(metricIssuerDown); v != 0 {
			t.Fatalf("%s = %d after recovery", metricIssuerDown, v)
		}
	})
}

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func TestSyncStaleSignatureRetry(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		c := tickSync(t, host)
		before := len(host.GetCalloutAttributesFromContext(proxytest.PluginContextID))
		answerSync(t, host, c, 401, map[string]string{"error": "unauthorized", "reason": "stale_sync_signature"})
		callouts := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
		if len(callouts) != before+1 {
			t.Fatal("no immediate retry after stale_sync_signature")
		}
		answerSync(t, host, callouts[len(callouts)-1], 401, map[string]string{"error": "unauthorized", "reason": "stale_sync_signature"})
		if n := len(host.GetCalloutAttributesFromContext(proxytest.PluginContextID)); n != before+1 {
			t.Fatal("retried more than once")
		}
		if warns := strings.Join(host.GetWarnLogs(), "\n"); !strings.Contains(warns, "stale_sync_signature") {
			t.Fatalf("warn logs %q", warns)
		}
	})
}

func TestCredentialCache(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		tok := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1" })
		id, callout := startExchange(t, host, credentialHeaders())
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, tok))
		wantForwarded(t, host, id, host.GetCurrentHttpStreamAction(id), tok)
		host.CompleteHttpContext(id)

		// Seen before: no callout, same session, secret stripped.
		for i := 0; i < 3; i++ {
			id, a := send(host, credentialHeaders())
			wantForwarded(t, host, id, a, tok)
			if c := host.GetCalloutAttributesFromContext(id); len(c) != 0 {
				t.Fatal("cached header pair caused a callout")
			}
		}
		// A duplicated secret is still refused.
		id, a := send(host, credentialHeaders("cf-access-client-secret", testSecret))
		wantReply(t, host, id, a, 401, "duplicate_credentials")
		wantNoSecrets(t, host.GetCurrentRequestHeaders(id))

		// Another secret of valid shape never matches.
		other := get("/api", "cf-access-client-id", testClientID, "cf-access-client-secret", newTestSecret(t))
		startExchange(t, host, other)

		// The token disabled: the cached session is dropped and the pair
		// exchanged again (the issuer decides).
		st := baseSync("e1")
		st.DisabledTokens = []string{"tok-1"}
		syncOnce(t, host, st)
		startExchange(t, host, credentialHeaders())
		host.Tick()
		if n, _ := host.GetCounterMetric(outcomeNames[outCredentialCached]); n != 3 {
			t.Fatalf("credential_cached = %d, want 3", n)
		}
		if n, _ := host.GetCounterMetric(outcomeNames[outExchanged]); n != 1 {
			t.Fatalf("exchanged = %d, want 1", n)
		}
	})
}

// TestCredentialCacheAfterSecretGrace: once a rotated token's previous secret
// stops working, a session cached for the header pair before that time is not
// served from the credential cache (it may have been exchanged with the old
// secret): the pair is exchanged again. The session itself, as a cookie, and
// sessions cached after the grace ended are unaffected.
func TestCredentialCacheAfterSecretGrace(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		now := time.Now().Unix()
		old := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1"; c.IssuedAt = now - 100 })
		id, callout := startExchange(t, host, credentialHeaders())
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, old))
		wantForwarded(t, host, id, host.GetCurrentHttpStreamAction(id), old)
		host.CompleteHttpContext(id)

		// Grace still running: the cached session is served.
		st := baseSync("e1")
		st.SecretGraceEnds = []graceEnd{{TokenID: "tok-1", PreviousSecretExpiresAt: now + 3600}}
		syncOnce(t, host, st)
		id, a := send(host, credentialHeaders())
		wantForwarded(t, host, id, a, old)
		host.CompleteHttpContext(id)

		// Grace over: exchanged again, and the new session is cached.
		st = baseSync("e2")
		st.SecretGraceEnds = []graceEnd{{TokenID: "tok-1", PreviousSecretExpiresAt: now - 10}}
		syncOnce(t, host, st)
		id, callout = startExchange(t, host, credentialHeaders())
		fresh := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1"; c.IssuedAt = now - 5; c.ID = "fresh" })
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, fresh))
		wantForwarded(t, host, id, host.GetCurrentHttpStreamAction(id), fresh)
		host.CompleteHttpContext(id)
		id, a = send(host, credentialHeaders())
		wantForwarded(t, host, id, a, fresh)
		host.CompleteHttpContext(id)

		// The old session still works as a cookie: rotation does not revoke sessions.
		id, a = send(host, get("/api", "cookie", "CF_Authorization="+old))
		wantForwarded(t, host, id, a, old)
	})
}

// TestCredentialCacheShared: another VM of the same proxy (here: the plugin
// started afresh, with empty caches, on the same shared data) finds the
// exchanged session in shared data without calling the issuer.
func TestCredentialCacheShared(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		tok := sign(t, testKey, nil)
		id, callout := startExchange(t, host, credentialHeaders())
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, tok))
		wantForwarded(t, host, id, host.GetCurrentHttpStreamAction(id), tok)

		if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
			t.Fatal("restart failed")
		}
		id, a := send(host, credentialHeaders())
		wantForwarded(t, host, id, a, tok)
		if c := host.GetCalloutAttributesFromContext(id); len(c) != 0 {
			t.Fatal("the second VM called the issuer")
		}
	})
}

func newTestSecret(t *testing.T) string {
	t.Helper()
	for {
		if s := credential.NewSecret(); s != testSecret {
			return s
		}
	}
}
