package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func TestSignedOutRedirectsToLogin(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	for _, path := range []string{"/ui/", "/ui/tokens", "/ui/apps", "/ui/audit", "/ui/tokens/new"} {
		p := b.get(path)
		if p.Code != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/ui/") {
			t.Fatalf("GET %s signed out: %d %q", path, p.Code, p.location())
		}
	}
	p := b.get("/ui/audit?event=token.created")
	if want := "/ui/login?next=" + url.QueryEscape("/ui/audit?event=token.created"); p.location() != want {
		t.Fatalf("redirect %q, want %q", p.location(), want)
	}
	// A POST without a session changes nothing and says why.
	p = b.do("POST", "/ui/tokens", url.Values{"name": {"x"}, "duration": {"24h"}}, nil)
	expect(t, p, http.StatusForbidden)
	if !strings.Contains(p.Body, "session has ended") {
		t.Fatalf("body: %s", p.Body)
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	b := h.browser()

	p := b.get("/ui/login?next=/ui/apps")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, `type="password"`) || b.cookies["svcauth_ui_login"] == nil {
		t.Fatalf("login page lacks its form or its CSRF cookie:\n%s", p.Body)
	}

	// Wrong key: a readable message, no session.
	p = b.post("/ui/login", url.Values{"admin_key": {"svcauth_ak_wrong"}, "next": {"/ui/apps"}})
	expect(t, p, http.StatusUnauthorized)
	if !strings.Contains(p.Body, "not valid") || b.cookies["svcauth_ui"] != nil {
		t.Fatalf("wrong key: %s", p.Body)
	}
	if strings.Contains(p.Body, "svcauth_ak_wrong") {
		t.Fatal("the page echoes the submitted key")
	}

	// The sign-in form needs its CSRF token.
	p = b.do("POST", "/ui/login", url.Values{"admin_key": {h.adminKey}, "csrf": {"forged"}}, nil)
	expect(t, p, http.StatusForbidden)
	if b.cookies["svcauth_ui"] != nil {
		t.Fatal("a sign-in with a forged CSRF token made a session")
	}

	p = b.post("/ui/login", url.Values{"admin_key": {h.adminKey}, "next": {"/ui/apps"}})
	expect(t, p, http.StatusSeeOther)
	if p.location() != "/ui/apps" {
		t.Fatalf("after sign-in: %q", p.location())
	}
	c := b.cookies["svcauth_ui"]
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" || c.MaxAge != int((12*time.Hour)/time.Second) {
		t.Fatalf("session cookie attributes: %+v", c)
	}
	if strings.Contains(c.Value, h.adminKey) {
		t.Fatal("the cookie holds the admin key")
	}
	p = b.get("/ui/apps")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "Signed in as <strong>initial</strong>") {
		t.Fatalf("apps page: %s", p.Body)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}

	// An open redirect is refused.
	b2 := h.browser()
	b2.get("/ui/login")
	p = b2.post("/ui/login", url.Values{"admin_key": {h.adminKey}, "next": {"//evil.example/ui/"}})
	if p.location() != "/ui/tokens" {
		t.Fatalf("next=//evil.example: redirected to %q", p.location())
	}
}

func TestCookieNotSecureOnlyOnLoopback(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		remote, host string
		secure       bool
	}{
		{"127.0.0.1:40000", "127.0.0.1:8081", false},
		{"[::1]:40000", "localhost:8081", false},
		{"127.0.0.1:40000", "issuer.example.com", true}, // behind a local reverse proxy
		{"192.0.2.1:40000", "127.0.0.1:8081", true},
	} {
		b := h.browser()
		b.remote, b.host = tc.remote, tc.host
		b.login(h.adminKey)
		if c := b.cookies["svcauth_ui"]; c == nil || c.Secure != tc.secure {
			t.Errorf("remote %s host %s: cookie %+v, want Secure=%v", tc.remote, tc.host, c, tc.secure)
		}
	}
}

func TestLogoutAndExpiry(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	old := *b.cookies["svcauth_ui"]

	p := b.post("/ui/logout", nil)
	expect(t, p, http.StatusSeeOther)
	if b.cookies["svcauth_ui"] != nil {
		t.Fatal("logout left the cookie")
	}
	b.cookies["svcauth_ui"] = &old // a copy of the old cookie is worthless
	if p := b.get("/ui/tokens"); p.Code != http.StatusSeeOther {
		t.Fatalf("old cookie after logout: %d", p.Code)
	}

	// Idle timeout.
	b = h.browser()
	b.login(h.adminKey)
	h.Advance(29 * time.Minute)
	expect(t, b.get("/ui/tokens"), http.StatusOK)
	h.Advance(30 * time.Minute)
	if p := b.get("/ui/tokens"); p.Code != http.StatusSeeOther {
		t.Fatalf("after 30 idle minutes: %d", p.Code)
	}

	// Absolute lifetime, even when used.
	b = h.browser()
	b.login(h.adminKey)
	for i := 0; i < 25; i++ {
		h.Advance(29 * time.Minute)
		if p := b.get("/ui/tokens"); p.Code != http.StatusOK {
			if i < 24 {
				t.Fatalf("session ended after %d half hours", i+1)
			}
			return
		}
	}
	t.Fatal("the session outlived its 12 hours")
}

func TestRevokedAdminKeyEndsSession(t *testing.T) {
	h := newHarness(t)
	var k apiv1.AdminKey
	if code := h.apiCall("POST", "/v1/admin-keys", apiv1.CreateAdminKeyRequest{Name: "ops"}, &k); code != 201 {
		t.Fatalf("create admin key: %d", code)
	}
	b := h.browser()
	b.login(k.Key)
	p := b.get("/ui/tokens")
	if !strings.Contains(p.Body, "Signed in as <strong>ops</strong>") {
		t.Fatalf("tokens page: %s", p.Body)
	}
	if code := h.apiCall("DELETE", "/v1/admin-keys/"+k.ID, nil, nil); code != 204 && code != 200 {
		t.Fatalf("revoke admin key: %d", code)
	}
	p = b.get("/ui/tokens")
	expect(t, p, http.StatusUnauthorized)
	if !strings.Contains(p.Body, "no longer valid") || b.cookies["svcauth_ui"] != nil {
		t.Fatalf("after revocation: %s", p.Body)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var tok apiv1.Token
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "victim"}, &tok)
	target := "/ui/tokens/" + tok.ID + "/disable"
	before := len(h.audit(""))

	for name, tc := range map[string]struct {
		form   url.Values
		header map[string]string
	}{
		"no token":     {url.Values{}, nil},
		"wrong token":  {url.Values{"csrf": {"AAAA" + b.csrf[4:]}}, nil},
		"cross-site":   {url.Values{"csrf": {b.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"other origin": {url.Values{"csrf": {b.csrf}}, map[string]string{"Origin": "http://evil.example"}},
	} {
		p := b.do("POST", target, tc.form, tc.header)
		if p.Code != http.StatusForbidden || !strings.Contains(p.Body, "Nothing was changed") && !strings.Contains(p.Body, "another site") {
			t.Fatalf("%s: status %d:\n%s", name, p.Code, p.Body)
		}
		if !h.token(tok.ID).Enabled {
			t.Fatalf("%s: the forged POST disabled the token", name)
		}
	}
	if after := len(h.audit("")); after != before {
		t.Fatalf("forged POSTs wrote %d audit events", after-before)
	}
	// Another session's token does not work either.
	other := h.browser()
	other.login(h.adminKey)
	p := b.do("POST", target, url.Values{"csrf": {other.csrf}}, nil)
	expect(t, p, http.StatusForbidden)

	p = b.post(target, nil)
	expect(t, p, http.StatusSeeOther)
	if h.token(tok.ID).Enabled {
		t.Fatal("the genuine POST did not disable the token")
	}
}

func TestCreateTokenShowsSecretOnce(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)

	expect(t, b.get("/ui/tokens/new"), http.StatusOK)
	p := b.post("/ui/tokens", url.Values{"name": {"nightly-backup"}, "duration": {"720h"}})
	expect(t, p, http.StatusSeeOther)
	loc := p.location()
	if !strings.HasPrefix(loc, "/ui/secret/") {
		t.Fatalf("create redirected to %q", loc)
	}

	p = b.get(loc)
	expect(t, p, http.StatusOK)
	secret := field(t, clientSecretRE, p.Body)
	clientID := field(t, clientIDRE, p.Body)
	if !strings.HasPrefix(secret, "svcauth_cs_") || !strings.HasSuffix(clientID, ".access") {
		t.Fatalf("secret %q client id %q", secret, clientID)
	}
	if cc := p.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control %q", cc)
	}
	if strings.Contains(loc, secret) || strings.Contains(field(t, titleRE, p.Body), secret) {
		t.Fatal("the secret is in the URL or the title")
	}
	for _, want := range []string{"CF-Access-Client-Id: " + clientID, "CF-Access-Client-Secret: " + secret, "only time it is shown", `data-copy="client-secret"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("one-time page lacks %q", want)
		}
	}

	// Reload: gone.
	p = b.get(loc)
	expect(t, p, http.StatusGone)
	if strings.Contains(p.Body, secret) || !strings.Contains(p.Body, "already been shown") {
		t.Fatalf("second view:\n%s", p.Body)
	}
	// Another session cannot read a slot either.
	b2 := h.browser()
	b2.login(h.adminKey)
	p = b2.post("/ui/tokens", url.Values{"name": {"other"}, "duration": {"24h"}})
	if p2 := b.get(p.location()); p2.Code != http.StatusGone {
		t.Fatalf("a slot of another session: %d", p2.Code)
	}

	// The secret works: exchange it for a session of an app that admits it.
	var tokens apiv1.List[apiv1.Token]
	h.apiCall("GET", "/v1/service-tokens?name=nightly-backup", nil, &tokens)
	if len(tokens.Items) != 1 || tokens.Items[0].Duration != "720h" || tokens.Items[0].ClientID != clientID {
		t.Fatalf("stored token: %+v", tokens.Items)
	}
	var app apiv1.App
	h.apiCall("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "billing", Domains: []string{"billing.internal"}}, &app)
	h.apiCall("POST", "/v1/apps/"+app.ID+"/policies", apiv1.CreatePolicyRequest{Decision: "non_identity", Include: []apiv1.Rule{domain.RuleAnyValidServiceToken()}}, nil)
	if code := h.apiCall("POST", "/v1/exchange", apiv1.ExchangeRequest{ClientID: clientID, ClientSecret: secret, AUD: app.AUD}, nil); code != 200 {
		t.Fatalf("exchange with the shown secret: %d", code)
	}

	// Audited with the admin key's name; no secret in any log line.
	ev := h.audit("event=token.created")
	if len(ev) == 0 || ev[0].Actor != "initial" || ev[0].TokenName != "other" {
		t.Fatalf("audit: %+v", ev)
	}
	if logs := h.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, h.adminKey) {
		t.Fatal("a secret or the admin key reached the log")
	}
}

func TestRotateRefreshEnable(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var tok apiv1.Token
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "ci", Duration: "24h"}, &tok)

	expect(t, b.get("/ui/tokens/"+tok.ID), http.StatusOK)
	p := b.post("/ui/tokens/"+tok.ID+"/rotate", url.Values{"grace": {"1h"}})
	expect(t, p, http.StatusSeeOther)
	p = b.get(p.location())
	expect(t, p, http.StatusOK)
	secret := field(t, clientSecretRE, p.Body)
	if secret == tok.ClientSecret || !strings.Contains(p.Body, "previous secret keeps working until") {
		t.Fatalf("rotate page:\n%s", p.Body)
	}
	if got := h.token(tok.ID); got.ClientSecretVersion != 2 || got.PreviousSecretExpiresAt == nil || !got.PreviousSecretExpiresAt.Equal(h.Now().Add(time.Hour)) {
		t.Fatalf("after rotate: %+v", got)
	}

	p = b.post("/ui/tokens/"+tok.ID+"/rotate", url.Values{"grace": {"10000h"}})
	expect(t, p, http.StatusSeeOther)
	if p = b.get(p.location()); !strings.Contains(p.Body, "Pick what happens to the old secret") {
		t.Fatalf("unknown grace: %s", p.Body)
	}

	h.Advance(20 * time.Minute)
	expect(t, b.post("/ui/tokens/"+tok.ID+"/refresh", nil), http.StatusSeeOther)
	p = b.get("/ui/tokens/" + tok.ID)
	if !strings.Contains(p.Body, "Refreshed ci: it now expires 2030-06-02 12:20 UTC.") {
		t.Fatalf("refresh flash missing:\n%s", p.Body)
	}
	if strings.Contains(b.get("/ui/tokens/"+tok.ID).Body, "Refreshed ci") {
		t.Fatal("the flash message shows twice")
	}

	expect(t, b.post("/ui/tokens/"+tok.ID+"/disable", nil), http.StatusSeeOther)
	if p = b.get("/ui/tokens"); !strings.Contains(p.Body, `badge-disabled">Disabled`) {
		t.Fatalf("tokens page after disable:\n%s", p.Body)
	}
	expect(t, b.post("/ui/tokens/"+tok.ID+"/enable", nil), http.StatusSeeOther)
	if !h.token(tok.ID).Enabled {
		t.Fatal("enable did not enable")
	}
	expect(t, b.post("/ui/tokens/"+tok.ID+"/rename", url.Values{"name": {"ci-renamed"}}), http.StatusSeeOther)
	if h.token(tok.ID).Name != "ci-renamed" {
		t.Fatal("rename did not rename")
	}
	for _, e := range h.audit("token_id=" + tok.ID) {
		if e.Event != domain.EventTokenCreated && e.Actor != "initial" {
			t.Errorf("audit event %s by %q", e.Event, e.Actor)
		}
	}
}

func TestTokensListStatusAndSearch(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	for name, d := range map[string]string{"alpha-job": "8760h", "beta-job": "72h", "gamma": "forever"} {
		h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: name, Duration: d}, nil)
	}
	p := b.get("/ui/tokens")
	for _, want := range []string{"alpha-job", "beta-job", "gamma", `badge-expiring">Expiring soon`, `badge-active">Active`, "Never"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("tokens page lacks %q", want)
		}
	}
	p = b.get("/ui/tokens?q=JOB")
	if !strings.Contains(p.Body, "alpha-job") || strings.Contains(p.Body, ">gamma<") {
		t.Fatalf("search: %s", p.Body)
	}
	p = b.get("/ui/tokens?q=nothing-like-this")
	if !strings.Contains(p.Body, "No service token name contains") {
		t.Fatalf("empty search: %s", p.Body)
	}
	h.Advance(4 * 24 * time.Hour)
	b.login(h.adminKey) // the session ended meanwhile
	if p = b.get("/ui/tokens?q=beta"); !strings.Contains(p.Body, `badge-expired">Expired`) {
		t.Fatalf("expired status: %s", p.Body)
	}
}

func TestReadableErrors(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "dup"}, nil)
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"dup"}, "duration": {"24h"}}, "already exists"},
		{url.Values{"name": {""}, "duration": {"24h"}}, "Service token: name is required."},
		{url.Values{"name": {"x"}, "duration": {"custom"}, "custom_duration": {"soon"}}, "want Go duration syntax"},
		{url.Values{"name": {"x"}, "duration": {"custom"}}, "Enter a custom duration"},
	} {
		p := b.post("/ui/tokens", tc.form)
		expect(t, p, http.StatusBadRequest)
		if !strings.Contains(p.Header.Get("Content-Type"), "text/html") || !strings.Contains(p.Body, tc.want) || strings.Contains(p.Body, `{"error"`) {
			t.Fatalf("%v: want %q in an HTML page:\n%s", tc.form, tc.want, p.Body)
		}
		if !strings.Contains(p.Body, `role="alert"`) {
			t.Errorf("%v: the error is not announced", tc.form)
		}
	}
	p := b.post("/ui/apps", url.Values{"name": {"a"}, "domains": {"https://x.example"}, "session_duration": {"24h"}})
	expect(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "without a scheme") || !strings.Contains(p.Body, "https://x.example") {
		t.Fatalf("app error: %s", p.Body)
	}
	p = b.get("/ui/tokens/00000000-0000-4000-8000-000000000000")
	expect(t, p, http.StatusNotFound)
	p = b.get("/ui/nowhere")
	expect(t, p, http.StatusNotFound)
}

func TestApplicationsAndPolicies(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var ci, backup apiv1.Token
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "ci"}, &ci)
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "backup"}, &backup)

	expect(t, b.get("/ui/apps/new"), http.StatusOK)
	p := b.post("/ui/apps", url.Values{"name": {"billing"}, "domains": {"billing.internal\r\n*.billing.example.com\r\n"}, "session_duration": {"custom"}, "custom_session_duration": {"90m"}})
	expect(t, p, http.StatusSeeOther)
	appPath := p.location()
	var apps apiv1.List[apiv1.App]
	h.apiCall("GET", "/v1/apps", nil, &apps)
	if len(apps.Items) != 1 || apps.Items[0].SessionDuration != "1h30m0s" || len(apps.Items[0].Domains) != 2 || appPath != "/ui/apps/"+apps.Items[0].ID {
		t.Fatalf("created app %+v at %s", apps.Items, appPath)
	}
	app := apps.Items[0]

	// Policies: ordered, with the token picker.
	expect(t, b.get(appPath+"/policies/new"), http.StatusOK)
	p = b.post(appPath+"/policies", url.Values{"name": {"ci only"}, "decision": {"non_identity"}, "include": {"token:" + ci.ID}})
	expect(t, p, http.StatusSeeOther)
	p = b.post(appPath+"/policies", url.Values{"name": {"block backup"}, "decision": {"deny"}, "include": {"everyone"}, "exclude": {"token:" + ci.ID}})
	expect(t, p, http.StatusSeeOther)
	p = b.post(appPath+"/policies", url.Values{"name": {"empty"}, "decision": {"deny"}})
	expect(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "at least one Include rule") {
		t.Fatalf("empty include: %s", p.Body)
	}
	p = b.post(appPath+"/policies", url.Values{"decision": {"non_identity"}, "include": {"token:00000000-0000-4000-8000-000000000000"}})
	expect(t, p, http.StatusBadRequest)

	var ps apiv1.List[apiv1.Policy]
	h.apiCall("GET", "/v1/apps/"+app.ID+"/policies", nil, &ps)
	if len(ps.Items) != 2 || ps.Items[0].Name != "ci only" {
		t.Fatalf("policies: %+v", ps.Items)
	}
	p = b.get(appPath)
	for _, want := range []string{"ci only", "block backup", `badge-non_identity">Service Auth`, ">ci</a>", "Everyone", "billing.internal", "1h30m0s"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	// Move the second policy up.
	expect(t, b.post(appPath+"/policies/"+ps.Items[1].ID+"/move", url.Values{"direction": {"up"}}), http.StatusSeeOther)
	h.apiCall("GET", "/v1/apps/"+app.ID+"/policies", nil, &ps)
	if ps.Items[0].Name != "block backup" || ps.Items[0].Precedence != 1 || ps.Items[1].Precedence != 2 {
		t.Fatalf("after move: %+v", ps.Items)
	}
	// Edit: the form shows the current rules, and saving changes them.
	p = b.get(appPath + "/policies/" + ps.Items[1].ID)
	if !strings.Contains(p.Body, `value="token:`+ci.ID+`" checked`) {
		t.Fatalf("edit form does not check the policy's token:\n%s", p.Body)
	}
	expect(t, b.post(appPath+"/policies/"+ps.Items[1].ID, url.Values{"name": {"ci and backup"}, "decision": {"non_identity"}, "include": {"token:" + ci.ID, "token:" + backup.ID}}), http.StatusSeeOther)
	var edited apiv1.Policy
	h.apiCall("GET", "/v1/apps/"+app.ID+"/policies/"+ps.Items[1].ID, nil, &edited)
	if edited.Name != "ci and backup" || len(edited.Include) != 2 {
		t.Fatalf("edited: %+v", edited)
	}

	// Edit the app.
	p = b.post(appPath, url.Values{"name": {"billing"}, "domains": {"billing.internal"}, "session_duration": {"168h"}})
	expect(t, p, http.StatusSeeOther)
	h.apiCall("GET", "/v1/apps/"+app.ID, nil, &app)
	if app.SessionDuration != "168h" || len(app.Domains) != 1 {
		t.Fatalf("edited app: %+v", app)
	}

	// Filter configuration.
	p = b.get(appPath + "/filter-config?cluster=outbound_svcauth")
	expect(t, p, http.StatusOK)
	for _, want := range []string{`&#34;audience&#34;: &#34;` + app.AUD, "outbound_svcauth", "signing key",
		`id="istio-yaml"`, "kind: WasmPlugin", "name: svcauth-billing", `outbound|8081||issuer.test`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("filter page lacks %q", want)
		}
	}
	p = b.get(appPath + "/filter-config?cluster=bad%20cluster")
	if !strings.Contains(p.Body, "cluster") || !strings.Contains(p.Body, `role="alert"`) {
		t.Fatalf("bad cluster: %s", p.Body)
	}

	var other apiv1.App
	h.apiCall("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "no-istio", Domains: []string{"x.internal"}}, &other)
	if p = b.get("/ui/apps/" + other.ID + "/filter-config"); !strings.Contains(p.Body, "No WasmPlugin: --name: want a lower-case DNS name.") || !strings.Contains(p.Body, `id="filter-json"`) {
		t.Fatalf("istio error: %s", p.Body)
	}

	// Revoke sessions, with a confirmation page first.
	expect(t, b.get(appPath+"/revoke-sessions"), http.StatusOK)
	expect(t, b.post(appPath+"/revoke-sessions", nil), http.StatusSeeOther)
	h.apiCall("GET", "/v1/apps/"+app.ID, nil, &app)
	if app.SessionsNotBefore == nil {
		t.Fatal("revoke did not set sessions_not_before")
	}
	if ev := h.audit("event=sessions.revoked"); len(ev) != 1 || ev[0].Actor != "initial" || ev[0].AppName != "billing" {
		t.Fatalf("revoke audit: %+v", ev)
	}

	// Delete a policy, then the app.
	expect(t, b.get(appPath+"/policies/"+ps.Items[0].ID+"/delete"), http.StatusOK)
	expect(t, b.post(appPath+"/policies/"+ps.Items[0].ID+"/delete", nil), http.StatusSeeOther)
	expect(t, b.get(appPath+"/delete"), http.StatusOK)
	expect(t, b.post(appPath+"/delete", nil), http.StatusSeeOther)
	if code := h.apiCall("GET", "/v1/apps/"+app.ID, nil, nil); code != 404 {
		t.Fatalf("app after delete: %d", code)
	}
}

func TestDeleteTokenConfirmationNamesPolicies(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var tok apiv1.Token
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "doomed"}, &tok)
	var app apiv1.App
	h.apiCall("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "payroll", Domains: []string{"payroll.internal"}}, &app)
	h.apiCall("POST", "/v1/apps/"+app.ID+"/policies", apiv1.CreatePolicyRequest{Name: "nightly", Decision: "non_identity",
		Include: []apiv1.Rule{domain.RuleServiceToken(tok.ID), domain.RuleAnyValidServiceToken()}}, nil)

	p := b.get("/ui/tokens/" + tok.ID + "/delete")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "payroll <span aria-hidden=\"true\">›</span> nightly") {
		t.Fatalf("confirmation does not name the policy:\n%s", p.Body)
	}
	confirmed := b.csrf
	_ = confirmed

	// A second policy appears between confirmation and deletion: stop.
	h.apiCall("POST", "/v1/apps/"+app.ID+"/policies", apiv1.CreatePolicyRequest{Name: "late", Decision: "deny", Include: []apiv1.Rule{domain.RuleServiceToken(tok.ID)}}, nil)
	var ps apiv1.List[apiv1.Policy]
	h.apiCall("GET", "/v1/apps/"+app.ID+"/policies", nil, &ps)
	p = b.post("/ui/tokens/"+tok.ID+"/delete", url.Values{"policies": {ps.Items[0].ID}})
	expect(t, p, http.StatusConflict)
	if !strings.Contains(p.Body, "changed since the confirmation") || !strings.Contains(p.Body, "late") {
		t.Fatalf("changed policies: %s", p.Body)
	}
	if code := h.apiCall("GET", "/v1/service-tokens/"+tok.ID, nil, nil); code != 200 {
		t.Fatal("the token was deleted without confirmation of every policy")
	}
	m := strings.Index(p.Body, `name="policies" value="`)
	ids := p.Body[m+len(`name="policies" value="`):]
	ids = ids[:strings.Index(ids, `"`)]

	p = b.post("/ui/tokens/"+tok.ID+"/delete", url.Values{"policies": {ids}})
	expect(t, p, http.StatusSeeOther)
	if p.location() != "/ui/tokens" {
		t.Fatalf("after delete: %q", p.location())
	}
	if p = b.get("/ui/tokens"); !strings.Contains(p.Body, "Deleted the service token doomed and removed it from 2 policies.") {
		t.Fatalf("flash: %s", p.Body)
	}
	if code := h.apiCall("GET", "/v1/service-tokens/"+tok.ID, nil, nil); code != 404 {
		t.Fatalf("token after delete: %d", code)
	}
	if ev := h.audit("event=token.deleted"); len(ev) != 1 || ev[0].Actor != "initial" || ev[0].TokenName != "doomed" {
		t.Fatalf("delete audit: %+v", ev)
	}
}

func TestAuditPage(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var first apiv1.Token
	h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "job-00"}, &first)
	for i := 1; i < 60; i++ {
		h.Advance(time.Second)
		h.apiCall("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: fmt.Sprintf("job-%02d", i)}, nil)
	}
	p := b.get("/ui/audit?event=token.created")
	expect(t, p, http.StatusOK)
	if n := strings.Count(p.Body, `data-event="token.created"`); n != 50 {
		t.Fatalf("first page has %d rows", n)
	}
	// Newest first, each row with its token's name.
	if i59, i10 := strings.Index(p.Body, "job-59</span>"), strings.Index(p.Body, "job-10</span>"); i59 < 0 || i10 < 0 || i59 > i10 {
		t.Fatalf("order: job-59 at %d, job-10 at %d", i59, i10)
	}
	m := strings.Index(p.Body, `rel="next"`)
	if m < 0 {
		t.Fatal("no link to older events")
	}
	href := p.Body[strings.LastIndex(p.Body[:m], `href="`)+6:]
	href = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")
	p = b.get(href)
	if n := strings.Count(p.Body, `data-event="token.created"`); n != 10 || !strings.Contains(p.Body, "job-00</span>") || !strings.Contains(p.Body, "Newest events") {
		t.Fatalf("second page (%s) has %d rows", href, n)
	}

	p = b.get("/ui/audit?token=" + first.ID)
	if n := strings.Count(p.Body, "<tr data-event="); n != 1 {
		t.Fatalf("token filter: %d rows", n)
	}
	p = b.get("/ui/audit?since=2030-06-01T12:00&until=2030-06-01T12:00")
	if !strings.Contains(p.Body, "No audit events match") {
		t.Fatalf("empty time range: %s", p.Body)
	}
	p = b.get("/ui/audit?since=yesterday")
	expect(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "2030-01-02T15:04") {
		t.Fatalf("bad since: %s", p.Body)
	}
}

func TestStaticAndHeaders(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	p := b.get("/ui/login")
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	} {
		if !strings.Contains(p.Header.Get(k), want) {
			t.Errorf("%s: %q", k, p.Header.Get(k))
		}
	}
	for _, asset := range []struct{ path, ctype string }{{"app.css", "text/css"}, {"app.js", "javascript"}, {"icon.svg", "image/svg+xml"}} {
		p := b.get("/ui/static/" + asset.path)
		if p.Code != 200 || !strings.Contains(p.Header.Get("Content-Type"), asset.ctype) {
			t.Errorf("%s: %d %q", asset.path, p.Code, p.Header.Get("Content-Type"))
		}
	}
	if p := b.get("/ui/static/missing.css"); p.Code != 404 {
		t.Errorf("missing asset: %d", p.Code)
	}
	if strings.Contains(p.Body, "http://") || strings.Contains(p.Body, "https://") {
		t.Error("the login page loads something from another origin")
	}
}

// TestAuditPageShowsAggregatedDenials: a row standing for several
// identical denials says how many, and since when.
func TestAuditPageShowsAggregatedDenials(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	var app apiv1.App
	h.apiCall("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "billing", Domains: []string{"billing.internal"}}, &app)
	for range 7 {
		h.apiCall("POST", "/v1/exchange", apiv1.ExchangeRequest{ClientID: "nope", ClientSecret: "nope", AUD: app.AUD}, nil)
	}
	p := b.get("/ui/audit?event=session.denied")
	expect(t, p, http.StatusOK)
	if n := strings.Count(p.Body, `data-event="session.denied"`); n != 1 || !strings.Contains(p.Body, "×7 since") {
		t.Fatalf("%d denial rows, want one marked ×7:\n%s", n, p.Body)
	}
}

// TestSessionAlgorithmInDashboard: the app form offers the algorithm; an
// RS256 app is created with it; changing an HS256 app to RS256 on the edit
// form rotates to an RS256 key; switching an RS256 app back is refused
// with the CLI command to use (its filters need a new configuration
// first), changing nothing; a value that is not offered is refused.
func TestSessionAlgorithmInDashboard(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.login(h.adminKey)
	p := b.get("/ui/apps/new")
	if !strings.Contains(p.Body, `<option value="RS256"`) || !strings.Contains(p.Body, `<option value="HS256" selected`) ||
		!strings.Contains(p.Body, "signs 30s later") {
		t.Fatalf("new app form lacks the algorithm choice or its activation delay:\n%s", p.Body)
	}
	p = b.post("/ui/apps", url.Values{"name": {"grafana"}, "domains": {"grafana.internal"}, "session_duration": {"24h"}, "session_algorithm": {"RS256"}})
	expect(t, p, http.StatusSeeOther)
	var apps apiv1.List[apiv1.App]
	h.apiCall("GET", "/v1/apps", nil, &apps)
	if len(apps.Items) != 1 || apps.Items[0].SessionAlgorithm != "RS256" {
		t.Fatalf("created %+v", apps.Items)
	}
	app := apps.Items[0]
	if p := b.get(p.location()); !strings.Contains(p.Body, `<option value="RS256" selected`) {
		t.Fatalf("edit form does not show RS256:\n%s", p.Body)
	}
	p = b.post("/ui/apps/"+app.ID, url.Values{"name": {"grafana"}, "domains": {"grafana.internal"}, "session_duration": {"24h"}, "session_algorithm": {"ES256"}})
	expect(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "Pick a session algorithm") {
		t.Fatalf("bad algorithm: %s", p.Body)
	}
	p = b.post("/ui/apps/"+app.ID, url.Values{"name": {"grafana"}, "domains": {"grafana.internal"}, "session_duration": {"24h"}, "session_algorithm": {"HS256"}})
	expect(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "--session-algorithm HS256 --activate-after") {
		t.Fatalf("RS256 back to HS256 on the form: %s", p.Body)
	}
	var keys apiv1.List[apiv1.AppKey]
	h.apiCall("GET", "/v1/apps/"+app.ID+"/keys", nil, &keys)
	if len(keys.Items) != 1 || keys.Items[0].Algorithm != "RS256" {
		t.Fatalf("keys after the refused switch: %+v", keys.Items)
	}

	p = b.post("/ui/apps", url.Values{"name": {"billing"}, "domains": {"billing.internal"}, "session_duration": {"24h"}, "session_algorithm": {"HS256"}})
	expect(t, p, http.StatusSeeOther)
	h.apiCall("GET", "/v1/apps", nil, &apps)
	var billing apiv1.App
	for _, a := range apps.Items {
		if a.Name == "billing" {
			billing = a
		}
	}
	expect(t, b.post("/ui/apps/"+billing.ID, url.Values{"name": {"billing"}, "domains": {"billing.internal"}, "session_duration": {"24h"}, "session_algorithm": {"RS256"}}), http.StatusSeeOther)
	h.apiCall("GET", "/v1/apps/"+billing.ID+"/keys", nil, &keys)
	if len(keys.Items) != 2 || keys.Items[0].Algorithm != "HS256" || keys.Items[1].Algorithm != "RS256" || keys.Items[1].State != "pending" {
		t.Fatalf("keys after switching to RS256: %+v", keys.Items)
	}
}
