package api_test

import (
	"testing"
	"time"
)

// TestTokenStatusMetrics checks the token gauges against tokens in every
// status, as time passes.
func TestTokenStatusMetrics(t *testing.T) {
	h := newHarness(t)
	h.createToken("active", "8760h")
	h.createToken("forever", "forever")
	h.createToken("expiring", "168h") // exactly 7 days: expiring
	h.createToken("expires-in-8-days", "192h")
	h.createToken("short", "1h")
	off := h.createToken("disabled", "1h")
	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + off.ID, body: `{"enabled":false}`}, 200, nil)

	want := func(active, expiring, expired, disabled float64) {
		t.Helper()
		for status, n := range map[string]float64{"active": active, "expiring": expiring, "expired": expired, "disabled": disabled} {
			if got := metric(t, h, "svcauth_service_tokens", "status", status); got != n {
				t.Errorf("svcauth_service_tokens{status=%q} = %v, want %v", status, got, n)
			}
		}
		if got := metric(t, h, "svcauth_service_tokens_expiring_soon"); got != expiring {
			t.Errorf("svcauth_service_tokens_expiring_soon = %v, want %v", got, expiring)
		}
	}
	want(3, 2, 0, 1)
	h.Advance(2 * time.Hour) // "short" has expired; a disabled token stays disabled
	want(3, 1, 1, 1)
	h.Advance(24 * time.Hour) // "expires-in-8-days" now expires within 7 days
	want(2, 2, 1, 1)
	h.Advance(8 * 24 * time.Hour)
	want(2, 0, 3, 1)
}
