package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestIssuerOutage stops the issuer under a running proxy: sessions it has
// seen keep working (a cookie, and a header pair in the credential cache), a
// new exchange gets 503, and the outage is logged once per sync period, not
// once per request. When the issuer is back, the next tick resyncs and
// revocation works again.
func TestIssuerOutage(t *testing.T) {
	e := newEnv(t)
	proxy := e.startSyncProxy(t)
	tok := e.token
	jwt := syncSession(t, e, proxy, tok)
	if status, reason, _ := syncSend(t, e, proxy, syncCreds(tok)); status != http.StatusOK {
		t.Fatalf("header pair: %d %s", status, reason)
	}
	// Never exchanged through this proxy before the outage:
	fresh, err := e.issuer.CreateToken(e.ctx, "e2e-outage-new")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * syncPeriod) // the proxy holds the current state

	outage := len(proxy.LogLines("issuer outage"))
	e.issuer.Stop()
	stopped := time.Now()
	requests := 0
	for time.Since(stopped) < 3*time.Second {
		if status, reason, _ := syncSend(t, e, proxy, syncCookie(jwt)); status != http.StatusOK {
			t.Fatalf("cookie during the outage: %d %s", status, reason)
		}
		if status, reason, _ := syncSend(t, e, proxy, syncCreds(tok)); status != http.StatusOK {
			t.Fatalf("cached header pair during the outage: %d %s", status, reason)
		}
		if status, reason, _ := syncSend(t, e, proxy, syncCreds(fresh)); status != http.StatusServiceUnavailable || reason != "issuer_unreachable" {
			t.Fatalf("new exchange during the outage: %d %s, want 503 issuer_unreachable", status, reason)
		}
		requests += 3
		time.Sleep(20 * time.Millisecond)
	}
	window := time.Since(stopped)
	lines := proxy.LogLines("issuer outage")[outage:]
	periods := int(window/syncPeriod) + 1
	t.Logf("outage of %v (%d periods of %v): %d requests, %d outage log lines", window.Round(time.Millisecond), periods, syncPeriod, requests, len(lines))
	if len(lines) == 0 {
		t.Fatal("the outage was not logged")
	}
	if len(lines) > periods+1 {
		t.Fatalf("%d outage lines in %d periods (%d requests): want at most one per period:\n%s", len(lines), periods, requests, lines)
	}

	if err := e.issuer.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for len(proxy.LogLines("answers again")) == 0 {
		if time.Since(back) > 3*syncPeriod+time.Second {
			t.Fatalf("no resync within %v of the issuer's return", 3*syncPeriod+time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("resynced %v after the issuer was back", time.Since(back).Round(time.Millisecond))
	if status, reason, _ := syncSend(t, e, proxy, syncCreds(fresh)); status != http.StatusOK {
		t.Fatalf("exchange after the outage: %d %s", status, reason)
	}
	// Revocation works again.
	start := time.Now()
	e.syncAdmin(t, http.MethodPatch, "/v1/service-tokens/"+tok.ID, map[string]any{"enabled": false})
	if d := syncUntilRevoked(t, e, proxy, jwt, start); d >= syncPeriod+time.Second {
		t.Fatalf("revocation after the outage took %v", d)
	}
}
