package api_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// state is everything the issuer stores, read straight from storage.
type state struct {
	Tokens    []domain.Token
	Apps      []domain.App
	Policies  map[string][]domain.Policy
	AdminKeys []domain.AdminKey
	Audit     []domain.AuditEvent
}

func (h *harness) state() state {
	h.t.Helper()
	ctx := context.Background()
	// Exchange audit rows are written in the background: write them now.
	if err := h.srv.FlushLastSeen(ctx); err != nil {
		h.t.Fatal(err)
	}
	var s state
	var err error
	if s.Tokens, err = h.store.ListTokens(ctx, storage.TokenFilter{}); err != nil {
		h.t.Fatal(err)
	}
	if s.Apps, err = h.store.ListApps(ctx); err != nil {
		h.t.Fatal(err)
	}
	s.Policies = map[string][]domain.Policy{}
	for _, a := range s.Apps {
		if s.Policies[a.ID], err = h.store.ListPolicies(ctx, a.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	if s.AdminKeys, err = h.store.ListAdminKeys(ctx); err != nil {
		h.t.Fatal(err)
	}
	if s.Audit, err = h.store.ListAudit(ctx, storage.AuditFilter{}); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestBadInputChangesNothing sends each bad request and checks the status,
// the error code and message, and that the stored state — every token, app,
// policy, admin key and audit row — is exactly what it was before.
func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	named := h.createToken("named", "")
	app := h.createApp("billing", "")
	h.createApp("other", "")
	pol := h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(named.ID)}, nil)
	hexSecret := strings.Repeat("0123456789abcdef", 4)
	var gone apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "gone", ClientID: credential.NewClientID(), ClientSecret: hexSecret}}, 201, &gone)
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + gone.ID}, 204, nil)

	initial := h.state().AdminKeys[0]

	const (
		tokens = "/v1/service-tokens"
		apps   = "/v1/apps"
	)
	tp := tokens + "/" + tok.ID
	ap := apps + "/" + app.ID
	pols := ap + "/policies"
	pp := pols + "/" + pol.ID
	unknown := domain.NewID()
	big := func(field string) string { return `{"` + field + `":"` + strings.Repeat("x", 65<<10) + `"}` }
	future := h.Now().Add(24 * 3600e9).Format("2006-01-02T15:04:05Z")
	importBody := func(name, clientID, secret, duration string) apiv1.ImportTokenRequest {
		return apiv1.ImportTokenRequest{Name: name, ClientID: clientID, ClientSecret: secret, Duration: duration}
	}

	cases := []struct {
		name   string
		req    request
		status int
		code   string
		msg    string // substring of the message
	}{
		// Create token.
		{"create token: unknown field", request{method: "POST", path: tokens, body: `{"name":"a","secret":"x"}`}, 400, "bad_request", `unknown field "secret"`},
		{"create token: oversize body", request{method: "POST", path: tokens, body: big("name")}, 413, "payload_too_large", "larger than"},
		{"create token: bad duration", request{method: "POST", path: tokens, body: `{"name":"a","duration":"1 year"}`}, 400, "bad_request", "duration"},
		{"create token: negative duration", request{method: "POST", path: tokens, body: `{"name":"a","duration":"-5h"}`}, 400, "bad_request", "duration"},
		{"create token: too short duration", request{method: "POST", path: tokens, body: `{"name":"a","duration":"1s"}`}, 400, "bad_request", "duration"},
		{"create token: too long duration", request{method: "POST", path: tokens, body: `{"name":"a","duration":"876001h"}`}, 400, "bad_request", "duration"},
		{"create token: no name", request{method: "POST", path: tokens, body: `{"duration":"1h"}`}, 400, "bad_request", "name is required"},
		{"create token: name with newline", request{method: "POST", path: tokens, body: `{"name":"a\nb"}`}, 400, "bad_request", "control"},
		{"create token: duplicate name", request{method: "POST", path: tokens, body: `{"name":"ci"}`}, 409, "conflict", `"ci"`},
		{"create token: empty body", request{method: "POST", path: tokens, body: ``}, 400, "bad_request", "empty"},
		{"create token: malformed JSON", request{method: "POST", path: tokens, body: `{"name":`}, 400, "bad_request", "JSON"},
		{"create token: trailing data", request{method: "POST", path: tokens, body: `{"name":"a"} {}`}, 400, "bad_request", "exactly one"},
		{"create token: wrong type", request{method: "POST", path: tokens, body: `{"name":5}`}, 400, "bad_request", `"name"`},
		{"create token: array body", request{method: "POST", path: tokens, body: `[]`}, 400, "bad_request", ""},
		{"list tokens: limit 0", request{method: "GET", path: tokens + "?limit=0"}, 400, "bad_request", "limit"},
		{"list tokens: limit not a number", request{method: "GET", path: tokens + "?limit=ten"}, 400, "bad_request", "limit"},
		{"list tokens: limit too big", request{method: "GET", path: tokens + "?limit=1001"}, 400, "bad_request", "limit"},

		// Token by id.
		{"get token: unknown id", request{method: "GET", path: tokens + "/" + unknown}, 404, "not_found", "service token"},
		{"get token: malformed id", request{method: "GET", path: tokens + "/not-an-id"}, 400, "bad_request", "not a valid id"},
		{"get token: upper-case id", request{method: "GET", path: tokens + "/" + strings.ToUpper(tok.ID)}, 400, "bad_request", "not a valid id"},
		{"get token: path tricks", request{method: "GET", path: tokens + "/..%2f"}, 400, "bad_request", "not a valid id"},
		{"patch token: unknown field", request{method: "PATCH", path: tp, body: `{"client_id":"x"}`}, 400, "bad_request", `"client_id"`},
		{"patch token: nothing to change", request{method: "PATCH", path: tp, body: `{}`}, 400, "bad_request", "nothing to change"},
		{"patch token: bad duration", request{method: "PATCH", path: tp, body: `{"duration":"soon"}`}, 400, "bad_request", "duration"},
		{"patch token: empty duration", request{method: "PATCH", path: tp, body: `{"duration":""}`}, 400, "bad_request", "duration"},
		{"patch token: duplicate name", request{method: "PATCH", path: tp, body: `{"name":"named"}`}, 409, "conflict", "name"},
		{"patch token: bad name", request{method: "PATCH", path: tp, body: `{"name":" padded"}`}, 400, "bad_request", "white space"},
		{"patch token: wrong type", request{method: "PATCH", path: tp, body: `{"enabled":"no"}`}, 400, "bad_request", `"enabled"`},
		{"patch token: oversize body", request{method: "PATCH", path: tp, body: big("name")}, 413, "payload_too_large", ""},
		{"patch token: unknown id", request{method: "PATCH", path: tokens + "/" + unknown, body: `{"enabled":false}`}, 404, "not_found", "service token"},
		{"patch token: malformed id", request{method: "PATCH", path: tokens + "/x", body: `{"enabled":false}`}, 400, "bad_request", "not a valid id"},
		{"refresh: unknown field", request{method: "POST", path: tp + "/refresh", body: `{"duration":"1h"}`}, 400, "bad_request", `"duration"`},
		{"refresh: unknown id", request{method: "POST", path: tokens + "/" + unknown + "/refresh"}, 404, "not_found", "service token"},
		{"refresh: malformed id", request{method: "POST", path: tokens + "/x/refresh"}, 400, "bad_request", "not a valid id"},
		{"rotate: grace over 30 days", request{method: "POST", path: tp + "/rotate", body: `{"grace":"721h"}`}, 400, "bad_request", "30 days"},
		{"rotate: negative grace", request{method: "POST", path: tp + "/rotate", body: `{"grace":"-1h"}`}, 400, "bad_request", "grace"},
		{"rotate: grace not a duration", request{method: "POST", path: tp + "/rotate", body: `{"grace":"a day"}`}, 400, "bad_request", "grace"},
		{"rotate: expiry in the past", request{method: "POST", path: tp + "/rotate", body: `{"previous_secret_expires_at":"2000-01-01T00:00:00Z"}`}, 400, "bad_request", "future"},
		{"rotate: expiry over 30 days", request{method: "POST", path: tp + "/rotate", body: `{"previous_secret_expires_at":"2099-01-01T00:00:00Z"}`}, 400, "bad_request", "30 days"},
		{"rotate: expiry not a time", request{method: "POST", path: tp + "/rotate", body: `{"previous_secret_expires_at":"tomorrow"}`}, 400, "bad_request", ""},
		{"rotate: both grace and expiry", request{method: "POST", path: tp + "/rotate", body: `{"grace":"1h","previous_secret_expires_at":"` + future + `"}`}, 400, "bad_request", "not both"},
		{"rotate: unknown field", request{method: "POST", path: tp + "/rotate", body: `{"secret":"mine"}`}, 400, "bad_request", `"secret"`},
		{"rotate: unknown id", request{method: "POST", path: tokens + "/" + unknown + "/rotate"}, 404, "not_found", "service token"},
		{"rotate: malformed id", request{method: "POST", path: tokens + "/x/rotate"}, 400, "bad_request", "not a valid id"},
		{"delete token: named by a policy", request{method: "DELETE", path: tokens + "/" + named.ID}, 409, "conflict", pol.ID},
		{"delete token: bad force", request{method: "DELETE", path: tokens + "/" + named.ID + "?force=maybe"}, 400, "bad_request", "force"},
		{"delete token: unknown id", request{method: "DELETE", path: tokens + "/" + unknown}, 404, "not_found", "service token"},
		{"delete token: already deleted", request{method: "DELETE", path: tokens + "/" + gone.ID}, 404, "not_found", "service token"},
		{"delete token: malformed id", request{method: "DELETE", path: tokens + "/x"}, 400, "bad_request", "not a valid id"},

		// Import.
		{"import: duplicate client id", request{method: "POST", path: tokens + "/import", body: importBody("again", tok.ClientID, hexSecret, "")}, 409, "conflict", ""},
		{"import: duplicate name", request{method: "POST", path: tokens + "/import", body: importBody("ci", credential.NewClientID(), hexSecret, "")}, 409, "conflict", ""},
		{"import: deleted token's client id", request{method: "POST", path: tokens + "/import", body: importBody("gone-again", gone.ClientID, hexSecret, "")}, 409, "conflict", "deleted service token"},
		{"import: bad client id", request{method: "POST", path: tokens + "/import", body: importBody("x", "abc.access", hexSecret, "")}, 400, "bad_request", "client_id"},
		{"import: upper-case secret", request{method: "POST", path: tokens + "/import", body: importBody("x", credential.NewClientID(), strings.ToUpper(hexSecret), "")}, 400, "bad_request", "client_secret"},
		{"import: short secret", request{method: "POST", path: tokens + "/import", body: importBody("x", credential.NewClientID(), hexSecret[:63], "")}, 400, "bad_request", "client_secret"},
		{"import: bad duration", request{method: "POST", path: tokens + "/import", body: importBody("x", credential.NewClientID(), hexSecret, "1y")}, 400, "bad_request", "duration"},
		{"import: no name", request{method: "POST", path: tokens + "/import", body: importBody("", credential.NewClientID(), hexSecret, "")}, 400, "bad_request", "name"},
		{"import: unknown field", request{method: "POST", path: tokens + "/import", body: `{"name":"x","client_id":"` + credential.NewClientID() + `","client_secret":"` + hexSecret + `","enabled":true}`}, 400, "bad_request", `"enabled"`},
		{"import: oversize body", request{method: "POST", path: tokens + "/import", body: big("client_secret")}, 413, "payload_too_large", ""},

		// Applications.
		{"create app: duplicate name", request{method: "POST", path: apps, body: `{"name":"billing","domains":["x.example.com"]}`}, 409, "conflict", `"billing"`},
		{"create app: no domains", request{method: "POST", path: apps, body: `{"name":"a","domains":[]}`}, 400, "bad_request", "domain"},
		{"create app: domain with scheme", request{method: "POST", path: apps, body: `{"name":"a","domains":["https://a.example.com"]}`}, 400, "bad_request", "scheme"},
		{"create app: bad host", request{method: "POST", path: apps, body: `{"name":"a","domains":["a..example.com"]}`}, 400, "bad_request", "host"},
		{"create app: session too long", request{method: "POST", path: apps, body: `{"name":"a","domains":["a.example.com"],"session_duration":"731h"}`}, 400, "bad_request", "session_duration"},
		{"create app: session too short", request{method: "POST", path: apps, body: `{"name":"a","domains":["a.example.com"],"session_duration":"30s"}`}, 400, "bad_request", "session_duration"},
		{"create app: session not a duration", request{method: "POST", path: apps, body: `{"name":"a","domains":["a.example.com"],"session_duration":"1d"}`}, 400, "bad_request", "session_duration"},
		{"create app: unknown field", request{method: "POST", path: apps, body: `{"name":"a","domains":["a.example.com"],"aud":"x"}`}, 400, "bad_request", `"aud"`},
		{"create app: oversize body", request{method: "POST", path: apps, body: big("name")}, 413, "payload_too_large", ""},
		{"get app: unknown id", request{method: "GET", path: apps + "/" + unknown}, 404, "not_found", "application"},
		{"get app: malformed id", request{method: "GET", path: apps + "/billing"}, 400, "bad_request", "not a valid id"},
		{"patch app: duplicate name", request{method: "PATCH", path: ap, body: `{"name":"other"}`}, 409, "conflict", "name"},
		{"patch app: session too long", request{method: "PATCH", path: ap, body: `{"session_duration":"1000h"}`}, 400, "bad_request", "session_duration"},
		{"patch app: empty session", request{method: "PATCH", path: ap, body: `{"session_duration":""}`}, 400, "bad_request", "session_duration"},
		{"patch app: no domains", request{method: "PATCH", path: ap, body: `{"domains":[]}`}, 400, "bad_request", "domain"},
		{"patch app: aud is not writable", request{method: "PATCH", path: ap, body: `{"aud":"x"}`}, 400, "bad_request", `"aud"`},
		{"patch app: nothing to change", request{method: "PATCH", path: ap, body: `{}`}, 400, "bad_request", "nothing to change"},
		{"patch app: unknown id", request{method: "PATCH", path: apps + "/" + unknown, body: `{"name":"z"}`}, 404, "not_found", "application"},
		{"delete app: unknown id", request{method: "DELETE", path: apps + "/" + unknown}, 404, "not_found", "application"},
		{"delete app: malformed id", request{method: "DELETE", path: apps + "/x"}, 400, "bad_request", "not a valid id"},
		{"revoke sessions: unknown app", request{method: "POST", path: apps + "/" + unknown + "/revoke-sessions"}, 404, "not_found", "application"},
		{"revoke sessions: unknown field", request{method: "POST", path: ap + "/revoke-sessions", body: `{"before":"now"}`}, 400, "bad_request", `"before"`},
		{"filter-config: unknown app", request{method: "GET", path: apps + "/" + unknown + "/filter-config"}, 404, "not_found", "application"},
		{"filter-config: bad cluster", request{method: "GET", path: ap + "/filter-config?cluster=a%20b"}, 400, "bad_request", "cluster"},

		// Policies.
		{"create policy: bad decision", request{method: "POST", path: pols, body: `{"decision":"permit","include":[{"everyone":{}}]}`}, 400, "bad_request", "decision"},
		{"create policy: no include", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[]}`}, 400, "bad_request", "include"},
		{"create policy: empty rule", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{}]}`}, 400, "bad_request", "include[0]"},
		{"create policy: two kinds in a rule", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"everyone":{},"any_valid_service_token":{}}]}`}, 400, "bad_request", "exactly one"},
		{"create policy: unknown rule kind", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"email":{"email":"a@b"}}]}`}, 400, "bad_request", `"email"`},
		{"create policy: unknown field in rule", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"service_token":{"token_id":"` + tok.ID + `","x":1}}]}`}, 400, "bad_request", `"x"`},
		{"create policy: unknown token", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"service_token":{"token_id":"` + unknown + `"}}]}`}, 400, "bad_request", "no service token"},
		{"create policy: deleted token", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"service_token":{"token_id":"` + gone.ID + `"}}]}`}, 400, "bad_request", "no service token"},
		{"create policy: unknown excluded token", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"everyone":{}}],"exclude":[{"service_token":{"token_id":"nope"}}]}`}, 400, "bad_request", "exclude[0]"},
		{"create policy: token rule without id", request{method: "POST", path: pols, body: `{"decision":"non_identity","include":[{"service_token":{}}]}`}, 400, "bad_request", "token_id"},
		{"create policy: precedence is not writable", request{method: "POST", path: pols, body: `{"decision":"bypass","include":[{"everyone":{}}],"precedence":1}`}, 400, "bad_request", `"precedence"`},
		{"create policy: unknown app", request{method: "POST", path: apps + "/" + unknown + "/policies", body: `{"decision":"non_identity","include":[{"everyone":{}}]}`}, 404, "not_found", "application"},
		{"list policies: unknown app", request{method: "GET", path: apps + "/" + unknown + "/policies"}, 404, "not_found", "application"},
		{"get policy: unknown id", request{method: "GET", path: pols + "/" + unknown}, 404, "not_found", "policy"},
		{"get policy: malformed id", request{method: "GET", path: pols + "/first"}, 400, "bad_request", "policy_id"},
		{"patch policy: bad decision", request{method: "PATCH", path: pp, body: `{"decision":"nope"}`}, 400, "bad_request", "decision"},
		{"patch policy: no include", request{method: "PATCH", path: pp, body: `{"include":[]}`}, 400, "bad_request", "include"},
		{"patch policy: precedence 0", request{method: "PATCH", path: pp, body: `{"precedence":0}`}, 400, "bad_request", "precedence"},
		{"patch policy: unknown token", request{method: "PATCH", path: pp, body: `{"include":[{"service_token":{"token_id":"missing"}}]}`}, 400, "bad_request", "no service token"},
		{"patch policy: nothing to change", request{method: "PATCH", path: pp, body: `{}`}, 400, "bad_request", "nothing to change"},
		{"patch policy: unknown id", request{method: "PATCH", path: pols + "/" + unknown, body: `{"name":"x"}`}, 404, "not_found", "policy"},
		{"delete policy: unknown id", request{method: "DELETE", path: pols + "/" + unknown}, 404, "not_found", "policy"},
		{"delete policy: under another app", request{method: "DELETE", path: apps + "/" + unknown + "/policies/" + pol.ID}, 404, "not_found", "application"},

		// Admin keys.
		{"create admin key: duplicate name", request{method: "POST", path: "/v1/admin-keys", body: `{"name":"initial"}`}, 409, "conflict", `"initial"`},
		{"create admin key: no name", request{method: "POST", path: "/v1/admin-keys", body: `{}`}, 400, "bad_request", "name"},
		{"create admin key: unknown field", request{method: "POST", path: "/v1/admin-keys", body: `{"name":"x","key":"mine"}`}, 400, "bad_request", `"key"`},
		{"revoke admin key: the last live one", request{method: "DELETE", path: "/v1/admin-keys/" + initial.ID}, 409, "conflict", "last live admin key"},
		{"revoke admin key: unknown id", request{method: "DELETE", path: "/v1/admin-keys/" + unknown}, 404, "not_found", "admin key"},
		{"revoke admin key: malformed id", request{method: "DELETE", path: "/v1/admin-keys/initial"}, 400, "bad_request", "not a valid id"},

		// Audit log.
		{"audit: bad since", request{method: "GET", path: "/v1/audit?since=yesterday"}, 400, "bad_request", "since"},
		{"audit: bad until", request{method: "GET", path: "/v1/audit?until=2030-01-01"}, 400, "bad_request", "until"},
		{"audit: bad before", request{method: "GET", path: "/v1/audit?before=-1"}, 400, "bad_request", "before"},
		{"audit: bad limit", request{method: "GET", path: "/v1/audit?limit=5000"}, 400, "bad_request", "limit"},

		// Exchange: a malformed call is refused before it is an exchange, so
		// it leaves no audit row.
		{"exchange: unknown field", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":"a","client_secret":"b","aud":"` + app.AUD + `","extra":1}`}, 400, "bad_request", `"extra"`},
		{"exchange: oversize body", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: big("client_secret")}, 413, "payload_too_large", ""},
		{"exchange: malformed JSON", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":`}, 400, "bad_request", "JSON"},
		{"exchange: bad aud", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":"a","client_secret":"b","aud":"billing"}`}, 400, "bad_request", "aud"},
		{"exchange: duplicate member", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":"a","client_id":"b","client_secret":"b","aud":"` + app.AUD + `"}`}, 400, "bad_request", `duplicate member "client_id" at byte 17`},
		{"exchange: invalid UTF-8", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: "{\"client_id\":\"\xff\"}"}, 400, "bad_request", "not valid UTF-8 at byte 14"},
		{"exchange: null body", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `null`}, 400, "bad_request", "must be a JSON object"},
		{"exchange: unknown aud", request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":"a","client_secret":"b","aud":"` + domain.NewAUD() + `"}`}, 404, "not_found", "application"},

		// Routing.
		{"unknown route", request{method: "GET", path: "/v1/nothing"}, 404, "not_found", "no route"},
		{"wrong method", request{method: "DELETE", path: "/v1/exchange"}, 405, "method_not_allowed", "DELETE"},
		{"wrong method on a token", request{method: "PUT", path: tp, body: `{"name":"x"}`}, 405, "method_not_allowed", "PUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.state()
			rec := h.do(tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			e := decodeError(t, rec)
			if e.Error != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("error %+v, want code %s and message containing %q", e, tc.code, tc.msg)
			}
			if after := h.state(); !reflect.DeepEqual(before, after) {
				t.Fatalf("the refused request changed the stored state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}
