//go:build !wasip1

package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/internal/wasmhost"
	"github.com/svcauth/svcauth/filter/session"
)

// directHost runs the module on filter/internal/wasmhost: the benchmarks'
// Envoy-like host (real WASI clocks, plain Go host functions).
type directHost struct{ *wasmhost.Host }

func newDirectHost(tb testing.TB, bin []byte, config string) directHost {
	tb.Helper()
	return newDirectHostShared(tb, bin, config, nil)
}

// newDirectHostShared is newDirectHost with the shared data of another host
// (nil: its own): the two are worker VMs of one proxy.
func newDirectHostShared(tb testing.TB, bin []byte, config string, shared *wasmhost.SharedData) directHost {
	tb.Helper()
	return newDirectHostWith(tb, bin, wasmhost.Options{PluginConfig: []byte(config), Shared: shared})
}

// newDirectHostWith starts a direct host with opts, and a client address.
func newDirectHostWith(tb testing.TB, bin []byte, opts wasmhost.Options) directHost {
	tb.Helper()
	opts.Properties = map[string][]byte{"source.address": []byte("198.51.100.23:40000")}
	h, err := wasmhost.New(context.Background(), bin, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	if err := h.Start(); err != nil {
		tb.Fatal(err)
	}
	return directHost{h}
}

func (h directHost) send(b *testing.B, headers [][2]string, want types.Action) {
	if s := h.request(b, headers, want); s != nil {
		h.Finish(s)
	}
}

func (h directHost) request(tb testing.TB, headers [][2]string, want types.Action) *wasmhost.Stream {
	s := h.Request(headers)
	if s.Action != uint32(want) {
		if s.Local != nil {
			tb.Fatalf("action %v, want %v; local reply %d %s", s.Action, want, s.Local.Status, s.Local.Body)
		}
		tb.Fatalf("action %v, want %v", s.Action, want)
	}
	return s
}

func (h directHost) exchange(b *testing.B, headers [][2]string, jwt string) {
	h.exchangeStream(b, headers, jwt)
}

// exchangeStream runs a request that must call the issuer, answers with jwt
// and returns the finished stream.
func (h directHost) exchangeStream(tb testing.TB, headers [][2]string, jwt string) *wasmhost.Stream {
	s := h.request(tb, headers, types.ActionPause)
	exchange := h.callout(tb, "/v1/exchange")
	h.Respond(exchange, [][2]string{{":status", "200"}}, []byte(`{"jwt":"`+jwt+`"}`))
	if !s.Continued {
		tb.Fatal("the request was not resumed after the exchange")
	}
	h.Finish(s)
	return s
}

// answerSync answers sync callout c with 200 and body, as the issuer does
// (the emulator's is answerSync in sync_test.go).
func (h directHost) answerSync(tb testing.TB, c *wasmhost.Callout, body syncBody) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	h.Respond(c, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"date", time.Now().UTC().Format(httpDateLayout)}}, b)
}

// callout returns the last callout the module made to path.
func (h directHost) callout(tb testing.TB, path string) *wasmhost.Callout {
	tb.Helper()
	var found *wasmhost.Callout
	for _, c := range h.Callouts() {
		for _, kv := range c.Headers {
			if kv[0] == ":path" && kv[1] == path {
				found = c
			}
		}
	}
	if found == nil {
		tb.Fatalf("no callout to %s among %d", path, len(h.Callouts()))
	}
	return found
}

// TestDirectHost checks that the module, on the benchmarks' direct host,
// takes the paths the benchmarks claim to measure, with the results the
// emulator's tests expect: so that a benchmark cannot time a wrong path (a
// refused request, a missing header) without failing.
func TestDirectHost(t *testing.T) {
	bin := filterModule.binary(t)

	t.Run("cookie", func(t *testing.T) {
		h := newDirectHost(t, bin, testConfig())
		jwt := sign(t, testKey, nil)
		headers := benchHeaders("cookie", "CF_Authorization="+jwt, "cf-access-jwt-assertion", "forged")
		for range 3 {
			s := h.request(t, headers, types.ActionContinue)
			if got := values(s.RequestHeaders, "cf-access-jwt-assertion"); len(got) != 1 || got[0] != jwt {
				t.Fatalf("assertion header %q, want the session JWT alone", got)
			}
			h.Finish(s)
		}
		h.Tick() // counts are flushed on the tick
		if n, _ := h.Metric("svcauth.requests.session_verified"); n != 1 {
			t.Errorf("session_verified = %d, want 1", n)
		}
		if n, _ := h.Metric("svcauth.requests.session_cached"); n != 2 {
			t.Errorf("session_cached = %d, want 2", n)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		h := newDirectHost(t, bin, testConfig())
		s := h.request(t, benchHeaders(), types.ActionPause)
		if s.Local == nil || s.Local.Status != 401 {
			t.Fatalf("local reply %+v, want 401", s.Local)
		}
		h.Finish(s)
	})

	t.Run("header pair", func(t *testing.T) {
		h := newDirectHost(t, bin, exchangeConfig)
		jwt := sign(t, testKey, nil)
		headers := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)
		s := h.exchangeStream(t, headers, jwt)
		if got := values(s.ResponseHeaders, "set-cookie"); len(got) != 1 || !strings.HasPrefix(got[0], "CF_Authorization="+jwt+";") {
			t.Errorf("set-cookie %q, want the session cookie", got)
		}
		s = h.request(t, headers, types.ActionContinue) // the credential cache: no callout
		if got := values(s.RequestHeaders, "cf-access-jwt-assertion"); len(got) != 1 || got[0] != jwt {
			t.Errorf("assertion header %q, want the exchanged JWT", got)
		}
		if got := values(s.RequestHeaders, "cf-access-client-secret"); len(got) != 0 {
			t.Error("the client secret reached the upstream")
		}
		h.Finish(s)
		bad := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", mistyped(testSecret))
		s = h.request(t, bad, types.ActionPause)
		if s.Local == nil || s.Local.Status != 401 {
			t.Fatalf("mistyped secret: local reply %+v, want 401", s.Local)
		}
		h.Finish(s)
	})
}

// TestDirectHostLateExchangeAnswer: Envoy may run other streams, and deliver
// a callout's answer, between the end of a stream (proxy_on_log) and the
// deletion of its context. A stream that ended while its exchange was out
// must not have its context reused by the next stream: the late answer would
// then set that stream's cookie and assertion.
func TestDirectHostLateExchangeAnswer(t *testing.T) {
	h := newDirectHost(t, filterModule.binary(t), exchangeConfig)
	a := h.request(t, benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret), types.ActionPause)
	callouts := h.Callouts()
	h.End(a) // the client went away; the context is not deleted yet

	cookie := sign(t, testKey, nil)
	b := h.request(t, benchHeaders("cookie", "CF_Authorization="+cookie), types.ActionContinue)
	// Another jti: the late session must be told apart from b's own.
	late := sign(t, testKey, func(c *session.Claims) { c.ID = "jti-late" })
	for _, c := range callouts {
		h.Respond(c, [][2]string{{":status", "200"}}, []byte(`{"jwt":"`+late+`"}`))
	}
	h.End(b)
	if got := values(b.ResponseHeaders, "set-cookie"); len(got) != 0 {
		t.Errorf("the next stream got the late exchange's cookie: %q", got)
	}
	if got := values(b.RequestHeaders, "cf-access-jwt-assertion"); len(got) != 1 || got[0] != cookie {
		t.Errorf("the next stream's assertion %q, want its own session", got)
	}
	if a.Continued || a.Local != nil || len(values(a.RequestHeaders, "cf-access-jwt-assertion")) != 0 {
		t.Errorf("the ended stream was acted on: continued %v, local reply %+v", a.Continued, a.Local)
	}
	h.Delete(a)
	h.Delete(b)
}

// TestDirectHostCachedSessionExpires: a session cached by an earlier request
// is refused with 401 expired once the real clock passes its exp (the cached
// entry's claims decide; no second signature check is needed), on every
// later request too.
func TestDirectHostCachedSessionExpires(t *testing.T) {
	h := newDirectHost(t, filterModule.binary(t), testConfig("clock_skew_seconds", 0))
	exp := time.Now().Unix() + 1
	tok := sign(t, testKey, func(c *session.Claims) { c.ExpiresAt = exp })
	headers := benchHeaders("cookie", "CF_Authorization="+tok)
	h.Finish(h.request(t, headers, types.ActionContinue)) // verified and cached
	time.Sleep(time.Until(time.Unix(exp, 0)) + 100*time.Millisecond)
	for range 2 {
		s := h.request(t, headers, types.ActionPause)
		if s.Local == nil || s.Local.Status != 401 || !strings.Contains(string(s.Local.Body), `"expired"`) {
			t.Fatalf("expired cached session: local reply %+v", s.Local)
		}
		h.Finish(s)
	}
}

// TestDirectHostRevocationReachesOtherVM: two worker VMs of one proxy (two
// hosts sharing shared data, with real clocks). One holds the poll lease and
// syncs; the other never polls, and refuses a session it had cached once the
// revocation is in the shared state, on a request at least refreshEveryMS
// after its last look (maybeRefresh), without a tick of its own.
func TestDirectHostRevocationReachesOtherVM(t *testing.T) {
	bin := filterModule.binary(t)
	shared := wasmhost.NewSharedData()
	poller := newDirectHostShared(t, bin, syncConfig, shared)
	worker := newDirectHostShared(t, bin, syncConfig, shared)
	now := time.Now().Unix()
	tok := sign(t, testKey, func(c *session.Claims) { c.TokenID = "tok-1"; c.IssuedAt = now - 100 })
	cookie := get("/api", "cookie", "CF_Authorization="+tok)
	worker.Finish(worker.request(t, cookie, types.ActionContinue)) // verified and cached

	poller.Tick() // takes the lease and polls
	sync := poller.callout(t, "/v1/filter-sync?aud="+testAud)
	worker.Tick() // the lease is held: no poll
	for _, c := range worker.Callouts() {
		t.Fatalf("the second VM called the issuer too: %q", c.Headers)
	}
	st := baseSync("e1")
	st.DisabledTokens = []string{"tok-1"}
	poller.answerSync(t, sync, st)
	s := poller.request(t, cookie, types.ActionPause) // the poller applied it itself
	if s.Local == nil || s.Local.Status != 401 {
		t.Fatalf("poller: local reply %+v, want 401", s.Local)
	}
	poller.Finish(s)

	time.Sleep(2 * refreshEveryMS * time.Millisecond)
	s = worker.request(t, cookie, types.ActionPause)
	if s.Local == nil || s.Local.Status != 401 || !strings.Contains(string(s.Local.Body), "revoked") {
		t.Fatalf("worker: local reply %+v, want 401 revoked", s.Local)
	}
	worker.Finish(s)
}

// TestDirectHostMalformedHeaderMap: a header map that does not parse (here,
// one byte short: the last value has no NUL) may hide a header the filter
// must strip, so the request gets a 503 and never reaches the upstream, even
// with a session the filter has cached. (Natively the SDK's list of pairs
// cannot be malformed; only the module reads the host's bytes.)
func TestDirectHostMalformedHeaderMap(t *testing.T) {
	bin := filterModule.binary(t)
	tok := sign(t, testKey, nil)
	cookie := get("/api", "cookie", "CF_Authorization="+tok, "cf-access-client-secret", testSecret)
	broken := false
	host := newDirectHostWith(t, bin, wasmhost.Options{
		PluginConfig: []byte(testConfig()),
		BreakHeaderMap: func(b []byte) []byte {
			if broken && len(b) > 0 {
				return b[:len(b)-1]
			}
			return b
		},
	})
	host.Finish(host.request(t, cookie, types.ActionContinue)) // verified and cached

	broken = true
	s := host.request(t, cookie, types.ActionPause)
	if s.Local == nil || s.Local.Status != 503 || !strings.Contains(string(s.Local.Body), "internal_error") {
		t.Fatalf("local reply %+v, want 503 internal_error", s.Local)
	}
	host.Finish(s)
}
