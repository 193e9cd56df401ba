package api_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/throttle"
)

// testPeers are the peers of both test runs: httptest's RemoteAddr
// (192.0.2.1) and loopback (the HTTP server run).
var testPeers = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("127.0.0.0/8")}

func throttleHarness(t *testing.T, trusted []netip.Prefix) (*harness, *countingStore, apiv1.App) {
	h, cs := newCountingHarness(t, func(c *api.Config) {
		c.Throttle = throttle.Config{Burst: 10, Refill: 6 * time.Second}
		c.TrustedProxies = trusted
	})
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	return h, cs, app
}

// exchangeFrom exchanges clientID and secret as the filter would for a
// client at source.
func (h *harness) exchangeFrom(clientID, secret, aud, source string) (int, apiv1.Error, string) {
	h.t.Helper()
	rec := h.do(request{method: "POST", path: "/v1/exchange", key: ptr(""),
		body: apiv1.ExchangeRequest{ClientID: clientID, ClientSecret: secret, AUD: aud, SourceIP: source}})
	var e apiv1.Error
	if rec.Code != 200 {
		e = decodeError(h.t, rec)
	}
	return rec.Code, e, rec.Header().Get("Retry-After")
}

// TestThrottleFailedExchanges: after a burst of 10 failures, a source and
// a client id get 429 with Retry-After, even with the right secret, at no
// storage cost; other clients are not slowed; the limit leaks away.
func TestThrottleFailedExchanges(t *testing.T) {
	h, cs, app := throttleHarness(t, testPeers)
	victim := h.createToken("victim", "")
	bystander := h.createToken("bystander", "")
	const attacker, victimHome, bystanderHome = "203.0.113.66", "198.51.100.10", "198.51.100.20"

	// The victim has exchanged from its usual address before the attack.
	if code, e, _ := h.exchangeFrom(victim.ClientID, victim.ClientSecret, app.AUD, victimHome); code != 200 {
		t.Fatalf("victim before the attack: %d %+v", code, e)
	}
	wrong := bystander.ClientSecret // well-formed, wrong for the victim
	for i := range 10 {
		if code, e, _ := h.exchangeFrom(victim.ClientID, wrong, app.AUD, attacker); code != 401 || e.Reason != "invalid_secret" {
			t.Fatalf("failure %d: %d %+v, want 401 invalid_secret", i+1, code, e)
		}
	}
	cs.take()
	code, e, retry := h.exchangeFrom(victim.ClientID, wrong, app.AUD, attacker)
	if code != 429 || e.Error != "too_many_requests" || e.Reason != "too_many_failures" || retry != "6" {
		t.Fatalf("11th failure: %d %+v Retry-After %q, want 429 too_many_failures after 6 s", code, e, retry)
	}
	// The right secret from the throttled source is refused too: the
	// answer must not tell which attempt was right.
	if code, e, _ := h.exchangeFrom(victim.ClientID, victim.ClientSecret, app.AUD, attacker); code != 429 || e.Reason != "too_many_failures" {
		t.Fatalf("right secret from the throttled source: %d %+v, want 429", code, e)
	}
	// Unknown client ids from that source: refused before any read.
	for range 50 {
		if code, _, _ := h.exchangeFrom(credential.NewClientID(), wrong, app.AUD, attacker); code != 429 {
			t.Fatalf("unknown client from the throttled source: %d, want 429", code)
		}
	}
	if got := cs.take(); len(got) != 0 {
		t.Fatalf("throttled attempts made storage calls %v, want none", got)
	}

	// Other clients are not slowed: the bystander from its own address,
	// and the victim from the address it succeeded from (its client id
	// is over the limit, but not for that pair).
	if code, e, _ := h.exchangeFrom(bystander.ClientID, bystander.ClientSecret, app.AUD, bystanderHome); code != 200 {
		t.Fatalf("bystander: %d %+v", code, e)
	}
	if code, e, _ := h.exchangeFrom(victim.ClientID, victim.ClientSecret, app.AUD, victimHome); code != 200 {
		t.Fatalf("victim from its usual address during the attack: %d %+v", code, e)
	}
	// A new address for the victim's client id is throttled by the client
	// id: the attacker could be anywhere.
	if code, e, _ := h.exchangeFrom(victim.ClientID, victim.ClientSecret, app.AUD, "198.51.100.99"); code != 429 || !strings.Contains(e.Message, "client id") {
		t.Fatalf("victim's id from a new address: %d %+v, want 429 by client id", code, e)
	}

	// One failure leaks out after 6 s: one more attempt, then 429 again.
	h.Advance(6 * time.Second)
	if code, _, _ := h.exchangeFrom(victim.ClientID, wrong, app.AUD, attacker); code != 401 {
		t.Fatalf("after the refill: %d, want one more 401", code)
	}
	if code, _, _ := h.exchangeFrom(victim.ClientID, wrong, app.AUD, attacker); code != 429 {
		t.Fatalf("after the refilled failure: %d, want 429", code)
	}
	h.Advance(time.Minute)
	if code, e, _ := h.exchangeFrom(victim.ClientID, victim.ClientSecret, app.AUD, attacker); code != 200 {
		t.Fatalf("a minute later, the right secret: %d %+v", code, e)
	}

	metrics := h.do(request{method: "GET", path: "/metrics", key: ptr("")}).Body.String()
	for _, want := range []string{
		`svcauth_exchange_throttled_total{key="source"} 53` + "\n",
		`svcauth_exchange_throttled_total{key="client_id"} 1` + "\n",
		`svcauth_exchange_denials_total{reason="too_many_failures"} 54` + "\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestThrottleUntrustedPeer: a caller that reaches the issuer directly
// (not from a trusted proxy) is its own source, whatever source_ip it
// writes: it cannot escape the limit by changing it.
func TestThrottleUntrustedPeer(t *testing.T) {
	h, _, app := throttleHarness(t, []netip.Prefix{})
	tok := h.createToken("ci", "")
	for i := range 30 {
		code, _, _ := h.exchangeFrom(credential.NewClientID(), tok.ClientSecret, app.AUD, "198.51.100."+strconv.Itoa(i+1))
		if want := 401; i >= 10 {
			if code != 429 {
				t.Fatalf("attempt %d with a new source_ip each time: %d, want 429", i+1, code)
			}
		} else if code != want {
			t.Fatalf("attempt %d: %d, want 401", i+1, code)
		}
	}
}

// TestDeniedExchangesAggregated: a flood of denials writes one row per
// kind with its count and first and last time, and logs one line per kind
// plus one summary; issued sessions keep one row each.
func TestDeniedExchangesAggregated(t *testing.T) {
	h, _, app := throttleHarness(t, testPeers)
	tok := h.createToken("ci", "")
	legit := h.createToken("legit", "")
	wrong := legit.ClientSecret
	start := h.Now()
	for range 500 {
		h.exchangeFrom(tok.ClientID, wrong, app.AUD, "203.0.113.7")
		h.Advance(time.Millisecond)
	}
	for range 3 {
		if code, _, _ := h.exchangeFrom(legit.ClientID, legit.ClientSecret, app.AUD, "198.51.100.10"); code != 200 {
			t.Fatalf("legitimate exchange: %d", code)
		}
	}
	if err := h.srv.FlushLastSeen(context.Background()); err != nil {
		t.Fatal(err)
	}
	denied := h.audit("event=session.denied&limit=1000")
	byReason := map[string]apiv1.AuditEvent{}
	for _, e := range denied {
		byReason[e.Reason] = e
	}
	if len(denied) != 2 || byReason["invalid_secret"].Count != 10 || byReason["too_many_failures"].Count != 490 {
		t.Fatalf("denied rows %+v, want one invalid_secret ×10 and one too_many_failures ×490", denied)
	}
	first := byReason["invalid_secret"]
	if first.FirstTime == nil || !first.FirstTime.Equal(start) || !first.Time.Equal(start.Add(9*time.Millisecond)) {
		t.Fatalf("invalid_secret row spans %v to %v, want %v to +9ms", first.FirstTime, first.Time, start)
	}
	if th := byReason["too_many_failures"]; th.ClientID != "" || th.SourceIP != "203.0.113.7" || th.Detail != "throttled by source" {
		t.Fatalf("throttled row %+v: want the source, no client id", th)
	}
	if n := len(h.audit("event=session.issued&limit=1000")); n != 3 {
		t.Fatalf("%d session.issued rows, want 3 (never aggregated)", n)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, `msg="exchange denied"`); n != 2 {
		t.Fatalf("%d exchange denied lines for 500 denials of two kinds, want 2", n)
	}
	if n := strings.Count(logs, `msg="exchange denied: similar lines suppressed"`); n != 2 ||
		!strings.Contains(logs, "suppressed=489") || !strings.Contains(logs, "suppressed=9") {
		t.Fatalf("summary lines: want 2 (suppressed=9, suppressed=489):\n%s", logs)
	}
}

// TestDeniedRowsBoundedPerWindow: distinct denials beyond the window's row
// limit fold into one row per application and reason.
func TestDeniedRowsBoundedPerWindow(t *testing.T) {
	h, _ := newCountingHarness(t, func(c *api.Config) { c.ThrottleOff = true; c.DenialRows = 20 })
	app := h.createApp("billing", "")
	for i := range 300 {
		h.exchangeFrom(credential.NewClientID(), strings.Repeat("0", 64), app.AUD, "198.51.100."+strconv.Itoa(i%250+1))
	}
	if err := h.srv.FlushLastSeen(context.Background()); err != nil {
		t.Fatal(err)
	}
	denied := h.audit("event=session.denied&limit=1000")
	total := 0
	for _, e := range denied {
		total += max(e.Count, 1)
	}
	if len(denied) != 21 || total != 300 {
		t.Fatalf("%d rows standing for %d denials, want 21 (20 + one folded) for 300", len(denied), total)
	}
	if folded := denied[0]; folded.Count != 280 || folded.ClientID != "" || folded.SourceIP != "" {
		t.Fatalf("newest row %+v, want the folded one ×280", folded)
	}
}

// TestDatabaseSizeGauge: the database's size is a metric, and it grows
// with the audit log.
func TestDatabaseSizeGauge(t *testing.T) {
	h := newHarness(t)
	size := func() float64 {
		for _, line := range strings.Split(h.do(request{method: "GET", path: "/metrics", key: ptr("")}).Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "svcauth_database_size_bytes "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatal("no svcauth_database_size_bytes in /metrics")
		return 0
	}
	before := size()
	if before <= 0 {
		t.Fatalf("database size %v", before)
	}
	for i := range 300 {
		h.createToken("token-"+strconv.Itoa(i), "")
	}
	if after := size(); after <= before {
		t.Fatalf("size %v after 300 tokens and their audit rows, was %v", after, before)
	}
}
