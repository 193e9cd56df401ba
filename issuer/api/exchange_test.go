package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func TestExchangeIssuesAVerifiableSession(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	app := h.createApp("billing", "2h")
	pol := h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)

	rec := h.exchange(tok, app.AUD)
	if rec.Code != 200 {
		t.Fatalf("exchange: %d %s", rec.Code, rec.Body.String())
	}
	var resp apiv1.ExchangeResponse
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatal(err)
	}
	now := h.Now().Unix()
	key := h.keys.SessionKey(app.AUD, 1)
	if key.ID != app.AUD[:12]+".v1" || app.KeyID != key.ID {
		t.Fatalf("kid %q, app shows %q", key.ID, app.KeyID)
	}
	v, err := session.NewVerifier(app.AUD, []session.Key{key}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(resp.JWT, now)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	want := session.Claims{
		Type: "app", Audience: app.AUD, Issuer: issuerURL, IssuedAt: now, NotBefore: now, ExpiresAt: now + 7200,
		CommonName: tok.ClientID, Subject: "", ID: c.ID, TokenID: tok.ID,
	}
	if c != want {
		t.Fatalf("claims:\n got %+v\nwant %+v", c, want)
	}
	if len(c.ID) != 32 || resp.ExpiresAt != now+7200 {
		t.Fatalf("jti %q, expires_at %d", c.ID, resp.ExpiresAt)
	}
	if _, err := v.Verify(resp.JWT, now+7200+1); err != session.ErrExpired {
		t.Fatalf("verify after exp: %v", err)
	}
	// A second exchange gets a fresh jti.
	var again apiv1.ExchangeResponse
	json.Unmarshal(h.exchange(tok, app.AUD).Body.Bytes(), &again)
	if c2, err := v.Verify(again.JWT, now); err != nil || c2.ID == c.ID {
		t.Fatalf("second session: jti %q (first %q), %v", c2.ID, c.ID, err)
	}

	rows := h.audit("event=session.issued")
	if len(rows) != 2 {
		t.Fatalf("%d session.issued rows, want 2", len(rows))
	}
	r := rows[1]
	if r.Actor != "exchange" || r.TokenID != tok.ID || r.TokenName != "ci" || r.ClientID != tok.ClientID || r.AppID != app.ID ||
		r.AppName != "billing" || r.PolicyID != pol.ID || r.SourceIP != "198.51.100.7" || r.RequestID != "req-123" {
		t.Fatalf("audit row %+v", r)
	}
	if got := metric(t, h, "svcauth_exchanges_total", "result", "issued"); got != 2 {
		t.Fatalf("svcauth_exchanges_total{result=issued} = %v, want 2", got)
	}
	assertNoSecretIn(t, h, tok.ClientSecret)
}

// metric returns the value of the counter or gauge name with the given
// label values (name=value pairs), or -1 when it is absent.
func metric(t *testing.T, h *harness, name string, labels ...string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func TestExchangeRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ci := h.createToken("ci", "")
	other := h.createToken("other", "")
	expiring := h.createToken("expiring", "1h")
	disabled := h.createToken("disabled", "")
	if _, err := h.store.UpdateToken(ctx, disabled.ID, func(t domain.Token) (domain.Token, error) {
		t.Enabled = false
		return t, nil
	}); err != nil {
		t.Fatal(err)
	}
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	noPolicy := h.createApp("nopolicy", "")
	onlyOther := h.createApp("onlyother", "")
	h.createPolicy(onlyOther.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(other.ID)}, nil)
	denied := h.createApp("denied", "")
	h.createPolicy(denied.ID, domain.DecisionDeny, []domain.Rule{domain.RuleServiceToken(ci.ID)}, nil)
	h.createPolicy(denied.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleEveryone()}, []domain.Rule{domain.RuleServiceToken(ci.ID)})
	allowOnly := h.createApp("allowonly", "")
	h.createPolicy(allowOnly.ID, domain.DecisionAllow, []domain.Rule{domain.RuleEveryone()}, nil)

	unknown := apiv1.Token{ClientID: credential.NewClientID(), ClientSecret: credential.NewSecret()}
	wrongSecret := ci
	wrongSecret.ClientSecret = credential.NewSecret()
	typo := ci
	typo.ClientSecret = mistyped(ci.ClientSecret)
	secretAsID := apiv1.Token{ClientID: ci.ClientSecret, ClientSecret: ci.ClientSecret}

	cases := []struct {
		name       string
		tok        apiv1.Token
		aud        string
		advance    time.Duration
		status     int
		code       string
		reason     string
		auditToken string // token name expected in the session.denied row; "-" for no row
	}{
		{"unknown client", unknown, app.AUD, 0, 401, "unauthorized", "unknown_client", ""},
		{"wrong secret", wrongSecret, app.AUD, 0, 401, "unauthorized", "invalid_secret", "ci"},
		{"mistyped secret", typo, app.AUD, 0, 401, "unauthorized", "malformed_credentials", ""},
		{"secret in the id field", secretAsID, app.AUD, 0, 401, "unauthorized", "malformed_credentials", ""},
		{"empty credentials", apiv1.Token{}, app.AUD, 0, 401, "unauthorized", "malformed_credentials", ""},
		{"disabled", disabled, app.AUD, 0, 401, "unauthorized", "token_disabled", "disabled"},
		{"no policy", ci, noPolicy.AUD, 0, 403, "forbidden", "no_matching_policy", "ci"},
		{"policy for another token", ci, onlyOther.AUD, 0, 403, "forbidden", "no_matching_policy", "ci"},
		{"deny policy", ci, denied.AUD, 0, 403, "forbidden", "denied_by_policy", "ci"},
		{"allow policy needs an identity", ci, allowOnly.AUD, 0, 403, "forbidden", "no_matching_policy", "ci"},
		{"unknown application", ci, domain.NewAUD(), 0, 404, "not_found", "", "-"},
		{"malformed aud", ci, "not-an-aud", 0, 400, "bad_request", "", "-"},
		{"expired", expiring, app.AUD, time.Hour, 401, "unauthorized", "token_expired", "expiring"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.Advance(tc.advance)
			before := len(h.audit("event=session.denied&limit=1000"))
			rec := h.exchange(tc.tok, tc.aud)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			e := decodeError(t, rec)
			if e.Error != tc.code || e.Reason != tc.reason {
				t.Fatalf("error %+v, want %s/%s", e, tc.code, tc.reason)
			}
			if rec.Header().Get("WWW-Authenticate") != "" {
				t.Fatal("exchange refusal asks for admin credentials")
			}
			if tc.tok.ClientSecret != "" && strings.Contains(rec.Body.String(), tc.tok.ClientSecret) {
				t.Fatal("answer echoes the secret")
			}
			rows := h.audit("event=session.denied&limit=1000")
			if tc.auditToken == "-" {
				if len(rows) != before {
					t.Fatalf("%d new audit rows, want none", len(rows)-before)
				}
				return
			}
			if len(rows) != before+1 {
				t.Fatalf("%d new audit rows, want 1", len(rows)-before)
			}
			r := rows[0]
			if r.Reason != tc.reason || r.TokenName != tc.auditToken || r.RequestID != "req-123" || r.SourceIP != "198.51.100.7" {
				t.Fatalf("audit row %+v", r)
			}
			wantClientID := ""
			if credential.ValidClientID(tc.tok.ClientID) {
				wantClientID = tc.tok.ClientID
			}
			if r.ClientID != wantClientID {
				t.Fatalf("audit client id %q, want %q (only well-formed ids are recorded)", r.ClientID, wantClientID)
			}
			if tc.reason == "denied_by_policy" && r.PolicyID == "" {
				t.Fatal("denial by policy does not name the policy")
			}
		})
	}
	if got := metric(t, h, "svcauth_exchanges_total", "result", "denied"); got != 11 {
		t.Fatalf("denied exchanges = %v, want 11", got)
	}
	if got := metric(t, h, "svcauth_exchanges_total", "result", "error"); got != 2 {
		t.Fatalf("error exchanges = %v, want 2", got)
	}
	if got := metric(t, h, "svcauth_exchanges_total", "result", "issued"); got != 0 {
		t.Fatalf("issued exchanges = %v, want 0", got)
	}
	for _, tok := range []apiv1.Token{ci, other, expiring, disabled} {
		assertNoSecretIn(t, h, tok.ClientSecret)
	}
}

func TestExchangeBadBodies(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"empty", "", 400},
		{"not json", "client_id=x", 400},
		{"unknown field", `{"client_id":"a","client_secret":"b","aud":"c","extra":1}`, 400},
		{"two objects", `{"aud":""}{"aud":""}`, 400},
		{"oversize", `{"client_id":"` + strings.Repeat("a", 70<<10) + `"}`, 413},
	} {
		rec := h.do(request{method: "POST", path: "/v1/exchange", body: tc.body, key: ptr("")})
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body.String())
		}
	}
}

func TestExchangeHonoursSecretRotationGrace(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	newSecret := credential.NewSecret()
	until := h.Now().Add(time.Hour)
	if _, err := h.store.UpdateToken(context.Background(), tok.ID, func(t domain.Token) (domain.Token, error) {
		t.PreviousSecretHash, t.PreviousSecretExpiresAt = t.SecretHash, &until
		t.SecretHash = h.keys.HashSecret(newSecret)
		return t, nil
	}); err != nil {
		t.Fatal(err)
	}
	rotated := tok
	rotated.ClientSecret = newSecret
	for _, c := range []struct {
		tok  apiv1.Token
		want int
	}{{tok, 200}, {rotated, 200}} {
		if rec := h.exchange(c.tok, app.AUD); rec.Code != c.want {
			t.Fatalf("during grace: %d, want %d", rec.Code, c.want)
		}
	}
	h.Advance(time.Hour)
	if rec := h.exchange(tok, app.AUD); rec.Code != 401 || decodeError(t, rec).Reason != "invalid_secret" {
		t.Fatalf("old secret after grace: %d %s", rec.Code, rec.Body.String())
	}
	if rec := h.exchange(rotated, app.AUD); rec.Code != 200 {
		t.Fatalf("new secret after grace: %d", rec.Code)
	}
}

func TestLastSeenIsBatched(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(tok.ID)}, nil)
	if rec := h.exchange(tok, app.AUD); rec.Code != 200 {
		t.Fatal(rec.Body.String())
	}
	seenAt := h.Now()
	ctx := context.Background()
	stored, _ := h.store.GetToken(ctx, tok.ID)
	if stored.LastSeenAt != nil {
		t.Fatal("exchange wrote last_seen_at synchronously")
	}
	h.Advance(time.Minute)
	if err := h.srv.FlushLastSeen(ctx); err != nil {
		t.Fatal(err)
	}
	var got apiv1.Token
	h.call(request{method: "GET", path: "/v1/service-tokens/" + tok.ID}, 200, &got)
	if got.LastSeenAt == nil || !got.LastSeenAt.Equal(seenAt) {
		t.Fatalf("last_seen_at %v, want %v", got.LastSeenAt, seenAt)
	}
}
