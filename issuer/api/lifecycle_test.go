package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// lifecycleHarness has one app admitting any valid token.
func lifecycleHarness(t *testing.T) (*harness, apiv1.App) {
	h := newHarness(t)
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	return h, app
}

func (h *harness) wantExchange(tok apiv1.Token, aud string, status int, reason string) {
	h.t.Helper()
	rec := h.exchange(tok, aud)
	if rec.Code != status {
		h.t.Fatalf("exchange for %s: %d, want %d: %s", tok.Name, rec.Code, status, rec.Body.String())
	}
	if reason != "" {
		if e := decodeError(h.t, rec); e.Reason != reason {
			h.t.Fatalf("exchange reason %q, want %q", e.Reason, reason)
		}
	}
}

func TestPatchToken(t *testing.T) {
	h, app := lifecycleHarness(t)
	tok := h.createToken("ci", "")
	h.createToken("taken", "")
	path := "/v1/service-tokens/" + tok.ID

	var got apiv1.Token
	h.Advance(time.Hour)
	h.call(request{method: "PATCH", path: path, body: `{"name":"ci-renamed","duration":"48h"}`}, 200, &got)
	if got.Name != "ci-renamed" || got.Duration != "48h" || !got.ExpiresAt.Equal(h.Now().Add(48*time.Hour)) || got.ClientSecret != "" {
		t.Fatalf("patched %+v", got)
	}
	h.call(request{method: "PATCH", path: path, body: `{"enabled":false}`}, 200, &got)
	if got.Enabled || got.Status != "disabled" {
		t.Fatalf("disabled %+v", got)
	}
	h.wantExchange(tok, app.AUD, 401, "token_disabled")
	h.call(request{method: "PATCH", path: path, body: `{"enabled":true}`}, 200, &got)
	h.wantExchange(tok, app.AUD, 200, "")

	for body, status := range map[string]int{`{}`: 400, `{"name":"taken"}`: 409, `{"duration":"soon"}`: 400, `{"duration":""}`: 400, `{"enabled":"yes"}`: 400, `{"client_id":"x"}`: 400} {
		h.call(request{method: "PATCH", path: path, body: body}, status, nil)
	}
	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + domain.NewID(), body: `{"enabled":true}`}, 404, nil)
	h.call(request{method: "GET", path: path}, 200, &got)
	if got.Name != "ci-renamed" || !got.Enabled {
		t.Fatalf("refused patches changed the token: %+v", got)
	}
	rows := h.audit("event=token.updated&token_id=" + tok.ID)
	if len(rows) != 3 || rows[2].TokenName != "ci-renamed" || !strings.Contains(rows[2].Detail, `renamed from "ci"`) {
		t.Fatalf("token.updated rows %+v", rows)
	}
}

func TestRefreshToken(t *testing.T) {
	h, app := lifecycleHarness(t)
	tok := h.createToken("ci", "2h")
	h.Advance(3 * time.Hour)
	h.wantExchange(tok, app.AUD, 401, "token_expired")
	var got apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh"}, 200, &got)
	if !got.ExpiresAt.Equal(h.Now().Add(2*time.Hour)) || got.Status != "expiring" {
		t.Fatalf("refreshed %+v", got)
	}
	h.wantExchange(tok, app.AUD, 200, "")
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh", body: `{}`}, 200, nil)
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh", body: `{"x":1}`}, 400, nil)
	h.call(request{method: "POST", path: "/v1/service-tokens/" + domain.NewID() + "/refresh"}, 404, nil)
	if rows := h.audit("event=token.refreshed"); len(rows) != 2 || rows[0].TokenName != "ci" {
		t.Fatalf("token.refreshed rows %+v", rows)
	}
}

func TestRotateToken(t *testing.T) {
	h, app := lifecycleHarness(t)
	tok := h.createToken("ci", "")
	path := "/v1/service-tokens/" + tok.ID + "/rotate"

	var rotated apiv1.Token
	h.call(request{method: "POST", path: path, body: `{"grace":"1h"}`}, 200, &rotated)
	if !credential.ValidSecret(rotated.ClientSecret) || rotated.ClientSecret == tok.ClientSecret || rotated.ClientSecretVersion != 2 ||
		rotated.ClientID != tok.ClientID || rotated.PreviousSecretExpiresAt == nil || !rotated.PreviousSecretExpiresAt.Equal(h.Now().Add(time.Hour)) {
		t.Fatalf("rotated %+v", rotated)
	}
	h.wantExchange(tok, app.AUD, 200, "")
	h.wantExchange(rotated, app.AUD, 200, "")
	h.Advance(time.Hour)
	h.wantExchange(tok, app.AUD, 401, "invalid_secret")
	h.wantExchange(rotated, app.AUD, 200, "")

	var again apiv1.Token
	h.call(request{method: "POST", path: path}, 200, &again)
	if again.ClientSecretVersion != 3 || again.PreviousSecretExpiresAt != nil {
		t.Fatalf("rotated without grace %+v", again)
	}
	h.wantExchange(rotated, app.AUD, 401, "invalid_secret")
	h.wantExchange(again, app.AUD, 200, "")

	until := h.Now().Add(2 * time.Hour).Format(time.RFC3339)
	var third apiv1.Token
	h.call(request{method: "POST", path: path, body: `{"previous_secret_expires_at":"` + until + `"}`}, 200, &third)
	h.wantExchange(again, app.AUD, 200, "")

	for _, body := range []string{`{"grace":"721h"}`, `{"grace":"-1h"}`, `{"grace":"x"}`,
		`{"previous_secret_expires_at":"2000-01-01T00:00:00Z"}`, `{"grace":"1h","previous_secret_expires_at":"` + until + `"}`} {
		h.call(request{method: "POST", path: path, body: body}, 400, nil)
	}
	h.wantExchange(third, app.AUD, 200, "")
	rows := h.audit("event=token.rotated")
	if len(rows) != 3 || rows[2].TokenName != "ci" || !strings.Contains(rows[2].Detail, "valid until") || !strings.Contains(rows[1].Detail, "revoked") {
		t.Fatalf("token.rotated rows %+v", rows)
	}
	for _, s := range []string{tok.ClientSecret, rotated.ClientSecret, again.ClientSecret, third.ClientSecret} {
		assertNoSecretIn(t, h, s)
	}
}

func TestDeleteToken(t *testing.T) {
	h, app := lifecycleHarness(t)
	tok := h.createToken("ci", "")
	named := h.createToken("named", "")
	other := h.createApp("other", "")
	p := h.createPolicy(other.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(named.ID), domain.RuleEveryone()}, nil)

	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + tok.ID}, 204, nil)
	h.wantExchange(tok, app.AUD, 401, "unknown_client")
	h.call(request{method: "GET", path: "/v1/service-tokens/" + tok.ID}, 404, nil)
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + tok.ID}, 404, nil)

	rec := h.call(request{method: "DELETE", path: "/v1/service-tokens/" + named.ID}, 409, nil)
	if msg := decodeError(t, rec).Message; !strings.Contains(msg, p.ID) || !strings.Contains(msg, "force") {
		t.Fatalf("409 message %q", msg)
	}
	h.wantExchange(named, app.AUD, 200, "")
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + named.ID + "?force=maybe"}, 400, nil)
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + named.ID + "?force=true"}, 204, nil)
	h.wantExchange(named, app.AUD, 401, "unknown_client")
	var got apiv1.Policy
	h.call(request{method: "GET", path: "/v1/apps/" + other.ID + "/policies/" + p.ID}, 200, &got)
	if len(got.Include) != 1 || got.Include[0].Everyone == nil {
		t.Fatalf("policy after forced delete %+v", got.Include)
	}
	rows := h.audit("event=token.deleted")
	if len(rows) != 2 || rows[0].TokenName != "named" || rows[1].TokenName != "ci" || !strings.Contains(rows[0].Detail, "forced") {
		t.Fatalf("token.deleted rows %+v", rows)
	}
}

func TestImportToken(t *testing.T) {
	h, app := lifecycleHarness(t)
	clientID := credential.NewClientID()
	hexSecret := strings.Repeat("0123456789abcdef", 4)
	var tok apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "from-cloudflare", ClientID: clientID, ClientSecret: hexSecret}}, 201, &tok)
	if tok.ClientID != clientID || tok.ClientSecret != "" || tok.Duration != "8760h" {
		t.Fatalf("imported %+v", tok)
	}
	tok.ClientSecret = hexSecret
	h.wantExchange(tok, app.AUD, 200, "")
	wrong := tok
	wrong.ClientSecret = strings.Repeat("f", 64)
	h.wantExchange(wrong, app.AUD, 401, "invalid_secret")

	for name, req := range map[string]apiv1.ImportTokenRequest{
		"same client id": {Name: "again", ClientID: clientID, ClientSecret: hexSecret},
		"same name":      {Name: "from-cloudflare", ClientID: credential.NewClientID(), ClientSecret: hexSecret},
	} {
		if rec := h.do(request{method: "POST", path: "/v1/service-tokens/import", body: req}); rec.Code != 409 {
			t.Errorf("%s: %d", name, rec.Code)
		}
	}
	for name, req := range map[string]apiv1.ImportTokenRequest{
		"bad client id":    {Name: "x", ClientID: "abc.access", ClientSecret: hexSecret},
		"upper hex":        {Name: "x", ClientID: credential.NewClientID(), ClientSecret: strings.ToUpper(hexSecret)},
		"short secret":     {Name: "x", ClientID: credential.NewClientID(), ClientSecret: hexSecret[:63]},
		"bad duration":     {Name: "x", ClientID: credential.NewClientID(), ClientSecret: hexSecret, Duration: "1y"},
		"no name":          {ClientID: credential.NewClientID(), ClientSecret: hexSecret},
		"bad svc checksum": {Name: "x", ClientID: credential.NewClientID(), ClientSecret: credential.NewSecret()[:60] + "AAAAAA"},
	} {
		rec := h.do(request{method: "POST", path: "/v1/service-tokens/import", body: req})
		if rec.Code != 400 || strings.Contains(rec.Body.String(), req.ClientSecret) && req.ClientSecret != "" {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body.String())
		}
	}
	if rows := h.audit("event=token.created"); len(rows) != 1 || !strings.Contains(rows[0].Detail, "imported") {
		t.Fatalf("audit %+v", rows)
	}
	assertNoSecretIn(t, h, hexSecret)
}

func TestAppAndPolicyLifecycle(t *testing.T) {
	h, app := lifecycleHarness(t)
	tok := h.createToken("ci", "")
	h.createApp("taken", "")
	var got apiv1.App
	h.call(request{method: "PATCH", path: "/v1/apps/" + app.ID, body: `{"name":"billing2","domains":["b.example.com"],"session_duration":"1h"}`}, 200, &got)
	if got.Name != "billing2" || got.Domains[0] != "b.example.com" || got.SessionDuration != "1h" || got.AUD != app.AUD {
		t.Fatalf("patched app %+v", got)
	}
	for body, status := range map[string]int{`{}`: 400, `{"name":"taken"}`: 409, `{"session_duration":"1000h"}`: 400, `{"domains":[]}`: 400, `{"aud":"x"}`: 400} {
		h.call(request{method: "PATCH", path: "/v1/apps/" + app.ID, body: body}, status, nil)
	}

	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/revoke-sessions"}, 200, &got)
	if got.SessionsNotBefore == nil || !got.SessionsNotBefore.Equal(h.Now()) {
		t.Fatalf("sessions_not_before %v", got.SessionsNotBefore)
	}
	h.wantExchange(tok, app.AUD, 200, "") // revoking sessions does not revoke access

	var policies apiv1.List[apiv1.Policy]
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/policies"}, 200, &policies)
	p := policies.Items[0]
	ppath := "/v1/apps/" + app.ID + "/policies/" + p.ID
	var pol apiv1.Policy
	h.call(request{method: "PATCH", path: ppath, body: `{"decision":"deny"}`}, 200, &pol)
	if pol.Decision != "deny" || pol.Include[0].AnyValidServiceToken == nil {
		t.Fatalf("patched policy %+v", pol)
	}
	h.wantExchange(tok, app.AUD, 403, "denied_by_policy")
	for body, status := range map[string]int{`{}`: 400, `{"decision":"nope"}`: 400, `{"include":[]}`: 400, `{"precedence":0}`: 400,
		`{"include":[{"service_token":{"token_id":"missing"}}]}`: 400} {
		h.call(request{method: "PATCH", path: ppath, body: body}, status, nil)
	}
	h.call(request{method: "DELETE", path: ppath}, 204, nil)
	h.call(request{method: "DELETE", path: ppath}, 404, nil)
	h.wantExchange(tok, app.AUD, 403, "no_matching_policy")

	h.call(request{method: "DELETE", path: "/v1/apps/" + app.ID}, 204, nil)
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID}, 404, nil)
	h.wantExchange(tok, app.AUD, 404, "")
	for _, ev := range []string{"app.updated", "sessions.revoked", "policy.updated", "policy.deleted", "app.deleted"} {
		if rows := h.audit("event=" + ev); len(rows) != 1 || rows[0].AppID != app.ID {
			t.Errorf("%s rows %+v", ev, rows)
		}
	}
}
