package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

func TestCreateListGetAppsAndPolicies(t *testing.T) {
	h := newHarness(t)
	var app apiv1.App
	h.call(request{method: "POST", path: "/v1/apps", body: apiv1.CreateAppRequest{
		Name: "billing", Domains: []string{"Billing.Example.com", "*.example.org/api", "billing.example.com"}}}, 201, &app)
	if !domain.ValidAUD(app.AUD) || app.KeyVersion != 1 || app.SessionDuration != "24h" || app.KeyID != app.AUD[:12]+".v1" {
		t.Fatalf("app %+v", app)
	}
	if strings.Join(app.Domains, ",") != "billing.example.com,*.example.org/api" {
		t.Fatalf("domains %v", app.Domains)
	}
	other := h.createApp("another", "730h")
	if other.AUD == app.AUD || other.SessionDuration != "730h" {
		t.Fatalf("second app %+v", other)
	}
	var got apiv1.App
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID}, 200, &got)
	if !sameJSON(t, got, app) {
		t.Fatalf("get app:\n got %+v\nwant %+v", got, app)
	}
	var apps apiv1.List[apiv1.App]
	h.call(request{method: "GET", path: "/v1/apps"}, 200, &apps)
	if len(apps.Items) != 2 || apps.Items[0].Name != "another" || apps.Items[1].Name != "billing" {
		t.Fatalf("apps %+v", apps.Items)
	}

	tok := h.createToken("ci", "")
	p1 := h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(tok.ID)}, nil)
	p2 := h.createPolicy(app.ID, domain.DecisionDeny, []domain.Rule{domain.RuleEveryone()}, []domain.Rule{domain.RuleAnyValidServiceToken()})
	if p1.Precedence != 1 || p2.Precedence != 2 || p1.AppID != app.ID || p1.Decision != "non_identity" {
		t.Fatalf("policies %+v %+v", p1, p2)
	}
	var raw map[string]any
	rec := h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/policies/" + p2.ID}, 200, nil)
	json.Unmarshal(rec.Body.Bytes(), &raw)
	wantJSON := `[{"any_valid_service_token":{}}]`
	if b, _ := json.Marshal(raw["exclude"]); string(b) != wantJSON {
		t.Fatalf("exclude JSON %s, want %s", b, wantJSON)
	}
	var list apiv1.List[apiv1.Policy]
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/policies"}, 200, &list)
	if len(list.Items) != 2 || list.Items[0].ID != p1.ID || list.Items[1].ID != p2.ID {
		t.Fatalf("policies %+v", list.Items)
	}
	if list.Items[0].Include[0].ServiceToken.TokenID != tok.ID {
		t.Fatalf("rule %+v", list.Items[0].Include[0])
	}
	h.call(request{method: "GET", path: "/v1/apps/" + other.ID + "/policies"}, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("other app's policies %+v", list.Items)
	}

	for _, ev := range []string{"app.created", "policy.created"} {
		rows := h.audit("event=" + ev)
		if len(rows) != 2 || rows[0].Actor != "initial" || rows[0].AppID == "" || rows[0].AppName == "" {
			t.Fatalf("%s rows %+v", ev, rows)
		}
	}
	if rows := h.audit("event=policy.created&app_id=" + app.ID); len(rows) != 2 || rows[0].PolicyID != p2.ID {
		t.Fatalf("policy.created rows for app %+v", rows)
	}
}

func TestAdminAuthIsRequired(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("billing", "")
	revoked := h.createAdminKey("old")
	h.createAdminKey("spare")
	h.call(request{method: "DELETE", path: "/v1/admin-keys/" + revoked.ID}, 200, nil)

	routes := []request{
		{method: "POST", path: "/v1/service-tokens", body: `{"name":"x"}`},
		{method: "GET", path: "/v1/service-tokens"},
		{method: "GET", path: "/v1/service-tokens/" + domain.NewID()},
		{method: "POST", path: "/v1/apps", body: `{"name":"y","domains":["y.example.com"]}`},
		{method: "GET", path: "/v1/apps"},
		{method: "GET", path: "/v1/apps/" + app.ID},
		{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config"},
		{method: "POST", path: "/v1/apps/" + app.ID + "/policies", body: `{"decision":"non_identity","include":[{"everyone":{}}]}`},
		{method: "GET", path: "/v1/apps/" + app.ID + "/policies"},
		{method: "GET", path: "/v1/audit"},
		{method: "GET", path: "/v1/admin-keys"},
		{method: "POST", path: "/v1/admin-keys", body: `{"name":"z"}`},
	}
	for _, key := range []struct{ name, header string }{
		{"no key", ""},
		{"wrong key", "Bearer " + keys.NewAdminKey()},
		{"revoked key", "Bearer " + revoked.Key},
		{"basic auth", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+h.adminKey))},
		{"no scheme", h.adminKey},
		{"service secret", "Bearer svcauth_cs_x"},
	} {
		for _, r := range routes {
			r.key = ptr("")
			r.header = map[string]string{"Authorization": key.header}
			rec := h.do(r)
			if rec.Code != 401 || decodeError(t, rec).Error != "unauthorized" || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %s %s: %d %s", key.name, r.method, r.path, rec.Code, rec.Body.String())
			}
		}
	}
	var apps apiv1.List[apiv1.App]
	h.call(request{method: "GET", path: "/v1/apps", header: map[string]string{"Authorization": "bearer  " + h.adminKey}}, 200, &apps)
	if len(apps.Items) != 1 {
		t.Fatalf("apps changed by refused requests: %+v", apps.Items)
	}
}

func (h *harness) createAdminKey(name string) apiv1.AdminKey {
	h.t.Helper()
	var k apiv1.AdminKey
	h.call(request{method: "POST", path: "/v1/admin-keys", body: apiv1.CreateAdminKeyRequest{Name: name}}, 201, &k)
	return k
}

func TestAdminKeys(t *testing.T) {
	h := newHarness(t)
	ci := h.createAdminKey("ci")
	if !keys.ValidAdminKey(ci.Key) || ci.Name != "ci" {
		t.Fatalf("admin key %+v", ci)
	}
	h.call(request{method: "POST", path: "/v1/admin-keys", body: `{"name":"ci"}`}, 409, nil)

	// The new key works and is the actor of what it does.
	var tok apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens", key: &ci.Key, body: `{"name":"by-ci"}`}, 201, &tok)
	if rows := h.audit("token_id=" + tok.ID); len(rows) != 1 || rows[0].Actor != "ci" {
		t.Fatalf("audit of the ci key's action: %+v", rows)
	}
	var list apiv1.List[apiv1.AdminKey]
	rec := h.call(request{method: "GET", path: "/v1/admin-keys"}, 200, &list)
	if len(list.Items) != 2 || strings.Contains(rec.Body.String(), ci.Key) || strings.Contains(rec.Body.String(), `"key"`) {
		t.Fatalf("admin key list %s", rec.Body.String())
	}
	var initialID string
	for _, k := range list.Items {
		if k.Name == "initial" {
			initialID = k.ID
		}
	}
	h.call(request{method: "DELETE", path: "/v1/admin-keys/" + ci.ID}, 200, nil)
	h.call(request{method: "GET", path: "/v1/apps", key: &ci.Key}, 401, nil)
	h.call(request{method: "DELETE", path: "/v1/admin-keys/" + ci.ID}, 409, nil)
	rec = h.call(request{method: "DELETE", path: "/v1/admin-keys/" + initialID}, 409, nil)
	if !strings.Contains(decodeError(t, rec).Message, "last") {
		t.Fatalf("revoking the last key: %s", rec.Body.String())
	}
	h.call(request{method: "DELETE", path: "/v1/admin-keys/" + domain.NewID()}, 404, nil)
	h.call(request{method: "GET", path: "/v1/apps"}, 200, nil)

	// Creating and revoking keys is attributed to the key that did it.
	for _, ev := range []string{"admin_key.created", "admin_key.revoked"} {
		rows := h.audit("event=" + ev)
		if len(rows) == 0 || rows[0].Actor != "initial" || !strings.Contains(rows[0].Detail, `"ci"`) || rows[0].RequestID == "" {
			t.Errorf("%s rows %+v", ev, rows)
		}
	}
}

func TestEnsureInitialAdminKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	key, generated, err := api.EnsureInitialAdminKey(ctx, h.store, h.keys, h.Now(), "")
	if err != nil || key != "" || generated {
		t.Fatalf("with a key already stored: %q %v %v", key, generated, err)
	}
	if rows := h.audit("event=admin_key.created"); len(rows) != 1 || rows[0].Actor != "system" {
		t.Fatalf("audit of the initial key: %+v", rows)
	}

	fresh, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, _, err := api.EnsureInitialAdminKey(ctx, fresh, h.keys, h.Now(), "not-a-key"); err == nil {
		t.Fatal("adopted a malformed key")
	}
	adopt := keys.NewAdminKey()
	key, generated, err = api.EnsureInitialAdminKey(ctx, fresh, h.keys, h.Now(), adopt)
	if err != nil || key != adopt || generated {
		t.Fatalf("adopt: %q %v %v", key, generated, err)
	}
	stored, _ := fresh.ListAdminKeys(ctx)
	if len(stored) != 1 || stored[0].Name != "initial" || !bytes.Equal(stored[0].Hash, h.keys.HashAdminKey(adopt)) {
		t.Fatalf("stored admin keys %+v", stored)
	}
}

func TestFilterConfig(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("billing", "")
	rec := h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config"}, 200, nil)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for k := range raw {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	want := "allow_cors_preflight,assertion_header,audience,client_id_header,client_secret_header,clock_skew_seconds," +
		"cookie_name,credential_cache_size,exempt_path_prefixes,issuer,json_credentials_header,keys,session_cache_size,sync_period_ms,token_header"
	if strings.Join(fields, ",") != want {
		t.Fatalf("fields %v", fields)
	}
	var cfg apiv1.FilterConfig
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	key := h.keys.SessionKey(app.AUD, 1)
	wantCfg := apiv1.FilterConfig{
		Audience:   app.AUD,
		Keys:       []apiv1.FilterKey{{KID: key.ID, Key: base64.RawURLEncoding.EncodeToString(key.Secret)}},
		Issuer:     apiv1.FilterIssuer{Cluster: "svcauth-issuer", Authority: "svcauth-issuer", ExchangePath: "/v1/exchange", SyncPath: "/v1/filter-sync", TimeoutMS: 2000},
		CookieName: "CF_Authorization", TokenHeader: "cf-access-token", ClientIDHeader: "cf-access-client-id",
		ClientSecretHeader: "cf-access-client-secret", JSONCredentialsHeader: "", AssertionHeader: "cf-access-jwt-assertion",
		ExemptPathPrefixes: []string{}, AllowCORSPreflight: false, ClockSkewSeconds: 30,
		SyncPeriodMS: 2000, SessionCacheSize: 4096, CredentialCacheSize: 4096,
	}
	if !sameJSON(t, cfg, wantCfg) {
		t.Fatalf("config:\n got %+v\nwant %+v", cfg, wantCfg)
	}
	if !strings.Contains(string(raw["exempt_path_prefixes"]), "[]") || strings.Contains(rec.Body.String(), "=") {
		t.Fatalf("exempt_path_prefixes %s (want [] not null) or padded key", raw["exempt_path_prefixes"])
	}
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config?cluster=issuer%20cluster&authority=issuer.internal:8081"}, 400, nil)
	// Istio's cluster names: outbound|PORT|SUBSET|HOST.
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config?cluster=outbound|8081||issuer.svc&authority=issuer.internal:8081"}, 200, &cfg)
	if cfg.Issuer.Cluster != "outbound|8081||issuer.svc" {
		t.Fatalf("istio cluster %+v", cfg.Issuer)
	}
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config?cluster=issuer_cluster&authority=issuer.internal:8081"}, 200, &cfg)
	if cfg.Issuer.Cluster != "issuer_cluster" || cfg.Issuer.Authority != "issuer.internal:8081" {
		t.Fatalf("issuer %+v", cfg.Issuer)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	h := newHarness(t)
	h.createToken("ci", "")
	h.call(request{method: "GET", path: "/healthz", key: ptr("")}, 200, nil)
	h.call(request{method: "GET", path: "/readyz", key: ptr("")}, 200, nil)
	rec := h.do(request{method: "GET", path: "/metrics", key: ptr("")})
	body := rec.Body.String()
	for _, want := range []string{
		`svcauth_exchanges_total{result="issued"} 0`,
		`svcauth_exchanges_total{result="denied"} 0`,
		`svcauth_exchanges_total{result="error"} 0`,
		`svcauth_http_request_duration_seconds_bucket{code="201",method="POST",route="POST /v1/service-tokens"`,
		`svcauth_service_tokens{status="active"} 1`,
		`svcauth_service_tokens_expiring_soon 0`,
	} {
		if rec.Code != 200 || !strings.Contains(body, want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
	h.store.Close()
	rec = h.do(request{method: "GET", path: "/readyz", key: ptr("")})
	if rec.Code != 503 || decodeError(t, rec).Error != "unavailable" {
		t.Fatalf("readyz with a closed database: %d %s", rec.Code, rec.Body.String())
	}
	h.call(request{method: "GET", path: "/healthz", key: ptr("")}, 200, nil)
}

func TestRequestIDIsEchoedAndRecorded(t *testing.T) {
	h := newHarness(t)
	rec := h.do(request{method: "POST", path: "/v1/service-tokens", body: `{"name":"ci"}`, header: map[string]string{"X-Request-Id": "abc-123"}})
	if rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("request id header %q", rec.Header().Get("X-Request-Id"))
	}
	if rows := h.audit("event=token.created"); rows[0].RequestID != "abc-123" {
		t.Fatalf("audit request id %q", rows[0].RequestID)
	}
	rec = h.do(request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\"with quote"}})
	if id := rec.Header().Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	h.exchange(tok, app.AUD)
	wrong := tok
	wrong.ClientSecret = mistyped(tok.ClientSecret)
	h.exchange(wrong, app.AUD)
	swapped := tok
	swapped.ClientID = tok.ClientSecret
	h.exchange(swapped, app.AUD)
	h.do(request{method: "POST", path: "/v1/exchange", key: ptr(""), body: `{"client_id":"` + tok.ClientID + `","client_secret":"` + tok.ClientSecret + `","aud":"` + app.AUD + `","bogus":1}`})
	ak := h.createAdminKey("second")
	logs := h.logs.String()
	if !strings.Contains(logs, "session issued") || !strings.Contains(logs, "exchange denied") {
		t.Fatalf("expected exchange log lines, got:\n%s", logs)
	}
	for _, s := range []string{tok.ClientSecret, wrong.ClientSecret, h.adminKey, ak.Key} {
		if strings.Contains(logs, s) {
			t.Fatalf("a secret is in the logs:\n%s", logs)
		}
	}
	assertNoSecretIn(t, h, tok.ClientSecret)
	assertNoSecretIn(t, h, wrong.ClientSecret)
}
