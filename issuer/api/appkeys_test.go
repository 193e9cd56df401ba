package api_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func (h *harness) appKeys(appID string) []apiv1.AppKey {
	h.t.Helper()
	var list apiv1.List[apiv1.AppKey]
	h.call(request{method: "GET", path: "/v1/apps/" + appID + "/keys"}, 200, &list)
	return list.Items
}

func (h *harness) filterKeys(appID string) []string {
	h.t.Helper()
	var cfg apiv1.FilterConfig
	h.call(request{method: "GET", path: "/v1/apps/" + appID + "/filter-config"}, 200, &cfg)
	var out []string
	for _, k := range cfg.Keys {
		out = append(out, k.KID)
	}
	return out
}

// kidOf returns the kid in the header of a session JWT, checking that the
// key named there verifies it.
func kidOf(t *testing.T, h *harness, app apiv1.App, jwt string, version int) {
	t.Helper()
	want := h.keys.SessionKey(app.AUD, version)
	v, err := session.NewVerifier(app.AUD, []session.Key{want}, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(jwt, h.Now().Unix()); err != nil {
		t.Fatalf("session not signed with %s: %v", want.ID, err)
	}
}

func TestKeyRotationPublishesFirstSignsLater(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("billing", "2h")
	other := h.createApp("other", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	t0 := h.Now()
	kid := func(v int) string { return h.keys.SessionKey(app.AUD, v).ID }

	keys := h.appKeys(app.ID)
	if len(keys) != 1 || keys[0].KID != kid(1) || keys[0].State != "signing" || keys[0].RetiresAt != nil || !keys[0].ActivatesAt.Equal(t0) {
		t.Fatalf("keys of a new app %+v", keys)
	}

	h.Advance(time.Minute)
	t1 := h.Now()
	var k2 apiv1.AppKey
	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate"}, 201, &k2)
	want := apiv1.AppKey{KID: kid(2), Version: 2, CreatedAt: t1, ActivatesAt: t1.Add(30 * time.Second), State: "pending", Algorithm: "HS256"}
	if !sameJSON(t, k2, want) {
		t.Fatalf("rotate answered %+v, want %+v", k2, want)
	}
	retires := t1.Add(30*time.Second + 2*time.Hour + 5*time.Minute)
	keys = h.appKeys(app.ID)
	if len(keys) != 2 || keys[0].State != "signing" || keys[0].RetiresAt == nil || !keys[0].RetiresAt.Equal(retires) || keys[1].State != "pending" {
		t.Fatalf("keys after rotation %+v (want v1 retiring at %v)", keys, retires)
	}
	var a apiv1.App
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID}, 200, &a)
	if a.KeyVersion != 2 || a.KeyID != kid(2) {
		t.Fatalf("app after rotation %+v", a)
	}

	// Published at once (both keys), still signing with v1.
	if got := strings.Join(h.filterKeys(app.ID), ","); got != kid(1)+","+kid(2) {
		t.Fatalf("filter-config keys %s", got)
	}
	var resp apiv1.ExchangeResponse
	h.call(request{method: "POST", path: "/v1/exchange", key: ptr(""), body: apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: app.AUD}}, 200, &resp)
	kidOf(t, h, app, resp.JWT, 1)

	// From activates_at, v2 signs; v1 is previous, still published.
	h.Advance(30 * time.Second)
	h.call(request{method: "POST", path: "/v1/exchange", key: ptr(""), body: apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: app.AUD}}, 200, &resp)
	kidOf(t, h, app, resp.JWT, 2)
	keys = h.appKeys(app.ID)
	if keys[0].State != "previous" || keys[1].State != "signing" {
		t.Fatalf("keys after activation %+v", keys)
	}
	if got := strings.Join(h.filterKeys(app.ID), ","); got != kid(1)+","+kid(2) {
		t.Fatalf("filter-config keys after activation %s", got)
	}

	// Once v1's sessions have expired, v1 retires and is no longer published.
	h.Advance(2*time.Hour + 5*time.Minute)
	keys = h.appKeys(app.ID)
	if keys[0].State != "retired" || keys[1].State != "signing" {
		t.Fatalf("keys after retirement %+v", keys)
	}
	var cfg apiv1.FilterConfig
	h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config"}, 200, &cfg)
	k := h.keys.SessionKey(app.AUD, 2)
	if len(cfg.Keys) != 1 || cfg.Keys[0] != (apiv1.FilterKey{KID: k.ID, Key: base64.RawURLEncoding.EncodeToString(k.Secret)}) {
		t.Fatalf("filter-config keys after retirement %+v", cfg.Keys)
	}

	// Another app's configuration never carries this app's keys.
	for _, id := range h.filterKeys(other.ID) {
		if strings.HasPrefix(id, app.AUD[:12]) {
			t.Fatalf("other app's filter-config holds %s", id)
		}
	}

	// activate_after 0: signs at once.
	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate", body: `{"activate_after":"0s"}`}, 201, &k2)
	if k2.State != "signing" || k2.KID != kid(3) {
		t.Fatalf("immediate rotation %+v", k2)
	}
	h.call(request{method: "POST", path: "/v1/exchange", key: ptr(""), body: apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: app.AUD}}, 200, &resp)
	kidOf(t, h, app, resp.JWT, 3)

	rows := h.audit("event=app.key_rotated")
	if len(rows) != 2 || rows[1].AppID != app.ID || rows[1].AppName != "billing" || rows[1].Actor != "initial" ||
		!strings.Contains(rows[1].Detail, kid(2)+" published") || !strings.Contains(rows[1].Detail, kid(1)+" retires at") {
		t.Fatalf("audit rows %+v", rows)
	}
	assertNoKeyMaterial(t, h, app)
}

func assertNoKeyMaterial(t *testing.T, h *harness, app apiv1.App) {
	t.Helper()
	for v := 1; v <= 3; v++ {
		k := base64.RawURLEncoding.EncodeToString(h.keys.SessionKey(app.AUD, v).Secret)
		if strings.Contains(h.logs.String(), k) {
			t.Fatalf("key v%d in the logs", v)
		}
		for _, r := range h.audit("limit=1000") {
			if strings.Contains(r.Detail, k) {
				t.Fatalf("key v%d in the audit log", v)
			}
		}
	}
}

func TestKeyRotationBadInput(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("billing", "")
	path := "/v1/apps/" + app.ID + "/keys/rotate"
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		msg        string
	}{
		{"too long", path, `{"activate_after":"2h"}`, 400, "activate_after"},
		{"negative", path, `{"activate_after":"-1s"}`, 400, "activate_after"},
		{"not a duration", path, `{"activate_after":"soon"}`, 400, "activate_after"},
		{"unknown field", path, `{"activate":"30s"}`, 400, "unknown field"},
		{"not an object", path, `[]`, 400, ""},
		{"unknown app", "/v1/apps/" + domain.NewID() + "/keys/rotate", `{}`, 404, "application"},
		{"malformed id", "/v1/apps/nope/keys/rotate", `{}`, 400, ""},
	} {
		rec := h.do(request{method: "POST", path: c.path, body: c.body})
		if rec.Code != c.status || !strings.Contains(decodeError(t, rec).Message, c.msg) {
			t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body.String())
		}
	}
	if rec := h.do(request{method: "GET", path: "/v1/apps/" + domain.NewID() + "/keys"}); rec.Code != 404 {
		t.Errorf("keys of an unknown app: %d", rec.Code)
	}
	if keys := h.appKeys(app.ID); len(keys) != 1 {
		t.Fatalf("refused rotations changed the keys: %+v", keys)
	}
	for _, r := range []request{{method: "GET", path: "/v1/apps/" + app.ID + "/keys"}, {method: "POST", path: path}} {
		r.key = ptr("")
		if rec := h.do(r); rec.Code != 401 {
			t.Errorf("%s %s without an admin key: %d", r.method, r.path, rec.Code)
		}
	}
}
