package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/logbuf"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/ui"
)

// harness is an issuer API on a fresh SQLite file with the dashboard in
// front of it, mounted as svcauth serve mounts it, and a settable clock.
// Several harnesses on one database are replicas (newHarnessOn).
type harness struct {
	t        *testing.T
	api      *api.Server
	handler  http.Handler
	adminKey string
	logs     *logbuf.Buffer

	*testenv.Clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOn(t, testenv.SQLite(t), testenv.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)), nil)
}

// newHarnessOn is newHarness on store, with clock, and with sessions as
// the dashboard's session store (nil: store). Harnesses on one database
// are replicas of one issuer (one master key); only the first to start
// gets adminKey, the others must be given it.
func newHarnessOn(t *testing.T, store storage.Storage, clock *testenv.Clock, sessions storage.UISessionStorage) *harness {
	t.Helper()
	ctx := context.Background()
	kr := testenv.Keyring(t, 7)
	h := &harness{t: t, logs: &logbuf.Buffer{}, Clock: clock}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	h.api, err = api.New(api.Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test", Logger: log, Now: h.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.adminKey, _, err = api.EnsureInitialAdminKey(ctx, store, kr, h.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	if sessions == nil {
		sessions = store
	}
	istio := &ui.Istio{Cluster: "outbound|8081||issuer.test", Authority: "issuer.test:8081",
		Render: func(app apiv1.App, cfg json.RawMessage) ([]byte, error) {
			if app.Name == "no-istio" {
				return nil, errors.New("--name: want a lower-case DNS name")
			}
			return []byte("kind: WasmPlugin\nname: svcauth-" + app.Name + "\npluginConfig: " + string(cfg) + "\n"), nil
		}}
	dash, err := ui.New(ui.Config{API: h.api, Authenticate: h.api.AuthenticateAdminKey, Sessions: sessions, Logger: log, Now: h.Now,
		IdleTimeout: 30 * time.Minute, MaxAge: 12 * time.Hour, Istio: istio})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, dash)
	mux.Handle("/", h.api)
	h.handler = mux
	return h
}

// apiCall calls the JSON API with the admin key and decodes the answer.
func (h *harness) apiCall(method, path string, in, out any) int {
	h.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+h.adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body.String())
		}
	}
	return rec.Code
}

func (h *harness) token(id string) apiv1.Token {
	h.t.Helper()
	var tok apiv1.Token
	if code := h.apiCall("GET", "/v1/service-tokens/"+id, nil, &tok); code != 200 {
		h.t.Fatalf("get token %s: %d", id, code)
	}
	return tok
}

func (h *harness) audit(query string) []apiv1.AuditEvent {
	h.t.Helper()
	var list apiv1.List[apiv1.AuditEvent]
	if code := h.apiCall("GET", "/v1/audit?"+query, nil, &list); code != 200 {
		h.t.Fatalf("audit: %d", code)
	}
	return list.Items
}

// browser is a minimal cookie-keeping client of the dashboard.
type browser struct {
	h       *harness
	remote  string
	host    string
	cookies map[string]*http.Cookie
	csrf    string // the CSRF token of the last page that had one
}

func (h *harness) browser() *browser {
	return &browser{h: h, remote: "192.0.2.10:50000", host: "issuer.example.com", cookies: map[string]*http.Cookie{}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page is one answer.
type page struct {
	Code   int
	Header http.Header
	Body   string
}

func (p page) location() string { return p.Header.Get("Location") }

func (b *browser) do(method, target string, form url.Values, header map[string]string) page {
	b.h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = b.remote
	req.Host = b.host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	b.h.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	p := page{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	if m := csrfField.FindStringSubmatch(p.Body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

func (b *browser) get(target string) page { return b.do("GET", target, nil, nil) }

// post submits form with the current CSRF token.
func (b *browser) post(target string, form url.Values) page {
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.do("POST", target, form, nil)
}

// login signs in with key and expects success.
func (b *browser) login(key string) {
	b.h.t.Helper()
	b.get("/ui/login")
	p := b.post("/ui/login", url.Values{"admin_key": {key}})
	if p.Code != http.StatusSeeOther {
		b.h.t.Fatalf("login: status %d: %s", p.Code, p.Body)
	}
	b.get(p.location())
}

func expect(t *testing.T, p page, code int) {
	t.Helper()
	if p.Code != code {
		t.Fatalf("status %d, want %d; body:\n%s", p.Code, code, p.Body)
	}
}

var (
	clientSecretRE = regexp.MustCompile(`<code id="client-secret"[^>]*>([^<]+)</code>`)
	clientIDRE     = regexp.MustCompile(`<code id="client-id"[^>]*>([^<]+)</code>`)
	titleRE        = regexp.MustCompile(`<title>([^<]*)</title>`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page lacks %s:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}
