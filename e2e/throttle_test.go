package e2e

import (
	"net/http"
	"strconv"
	"testing"
)

// TestThrottledThroughDevProxy: a client id that keeps failing is throttled
// by the issuer, and the client sees the filter's 429 with the issuer's
// Retry-After, not a 401 or a 503; while throttled, even the right secret is
// refused, so the answers do not tell which guess was right.
func TestThrottledThroughDevProxy(t *testing.T) {
	e := newEnv(t)
	other, err := e.issuer.CreateToken(e.ctx, "e2e-other")
	if err != nil {
		t.Fatal(err)
	}
	wrong := map[string]string{"CF-Access-Client-Id": e.token.ClientID, "CF-Access-Client-Secret": other.ClientSecret}
	failures := 0
	var throttled *http.Response
	for i := 0; i < 50 && throttled == nil; i++ {
		resp := e.get(t, "/", wrong)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			failures++
			resp.Body.Close()
		case http.StatusTooManyRequests:
			throttled = resp
		default:
			t.Fatalf("attempt %d: status %d", i+1, resp.StatusCode)
		}
	}
	if throttled == nil {
		t.Fatalf("%d failures and no 429", failures)
	}
	if failures < 5 || failures > 20 {
		t.Fatalf("throttled after %d failures, want the issuer's burst (10)", failures)
	}
	retry, err := strconv.Atoi(throttled.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 3600 {
		t.Fatalf("Retry-After %q", throttled.Header.Get("Retry-After"))
	}
	assertStatusReason(t, throttled, http.StatusTooManyRequests, "too_many_failures")

	resp := e.get(t, "/", e.credentials())
	assertStatusReason(t, resp, http.StatusTooManyRequests, "too_many_failures")
	if _, n := e.upstream.Last(); n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
	throttledByKey := e.metric(t, `svcauth_exchange_throttled_total{key="client_id"}`) +
		e.metric(t, `svcauth_exchange_throttled_total{key="source"}`)
	if throttledByKey < 2 {
		t.Fatalf("svcauth_exchange_throttled_total = %d, want at least the 2 refusals seen", throttledByKey)
	}
	// Each throttled refusal is a denial too (reason too_many_failures).
	if denied := e.exchanges(t, "denied"); denied != failures+2 {
		t.Fatalf("svcauth_exchanges_total{result=denied} = %d, want %d failures + 2 throttled", denied, failures)
	}
}
