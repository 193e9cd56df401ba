package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/keys"
)

// testEnv is an issuer (the real API on SQLite) behind httptest, and the
// environment the CLI sees.
type testEnv struct {
	t    *testing.T
	in   string // standard input of the next run
	url  string
	key  string
	keys *keys.Keyring
	env  map[string]string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	store := testenv.SQLite(t)
	kr := testenv.Keyring(t, 9)
	srv, err := api.New(api.Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := api.EnsureInitialAdminKey(ctx, store, kr, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{t: t, url: ts.URL, key: key, keys: kr, env: map[string]string{EnvURL: ts.URL, EnvAdminKey: key}}
}

func (e *testEnv) stdin() io.Reader {
	in := e.in
	e.in = ""
	return strings.NewReader(in)
}

type result struct {
	code           int
	stdout, stderr string
}

func (e *testEnv) run(args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, e.stdin(), &out, &errb, func(k string) string { return e.env[k] })
	return result{code, out.String(), errb.String()}
}

// ok runs args, expects exit 0, and decodes JSON stdout into v when not nil.
func (e *testEnv) ok(v any, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("svcauth %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			e.t.Fatalf("svcauth %s: stdout is not the expected JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
	return r
}

func TestTokensCommands(t *testing.T) {
	e := newTestEnv(t)
	r := e.ok(nil, "tokens", "create", "--name", "ci-deploy")
	if !strings.Contains(r.stdout, "Client Secret:") || !strings.Contains(r.stdout, "Client ID:") || !strings.Contains(r.stderr, "never shown again") {
		t.Fatalf("table output:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	var secret string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "Client Secret:") {
			secret = strings.TrimSpace(strings.TrimPrefix(line, "Client Secret:"))
		}
	}
	if !credential.ValidSecret(secret) {
		t.Fatalf("secret in table output %q", secret)
	}

	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "nightly", "--duration", "720h", "-o", "json")
	if !credential.ValidClientID(tok.ClientID) || !credential.ValidSecret(tok.ClientSecret) || tok.Duration != "720h" || tok.Name != "nightly" {
		t.Fatalf("json output %+v", tok)
	}

	r = e.ok(nil, "tokens", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "CLIENT ID") ||
		!strings.Contains(lines[1], "ci-deploy") || !strings.Contains(lines[2], tok.ClientID) {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, tok.ClientSecret) {
		t.Fatal("list shows a secret")
	}
	var list []apiv1.Token
	e.ok(&list, "tokens", "list", "-o", "json")
	if len(list) != 2 || list[1].ID != tok.ID {
		t.Fatalf("list json %+v", list)
	}
	e.ok(&list, "tokens", "list", "--name", "nightly", "-o", "json")
	if len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("list --name %+v", list)
	}

	var got apiv1.Token
	e.ok(&got, "tokens", "get", tok.ID, "-o", "json")
	if got.ID != tok.ID || got.ClientSecret != "" {
		t.Fatalf("get %+v", got)
	}
	r = e.ok(nil, "tokens", "get", tok.ID)
	if !strings.Contains(r.stdout, "nightly") || strings.Contains(r.stdout, "Client Secret") {
		t.Fatalf("get table:\n%s", r.stdout)
	}
}

func TestAppsPoliciesFilterConfigAndExchange(t *testing.T) {
	e := newTestEnv(t)
	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	var other apiv1.Token
	e.ok(&other, "tokens", "create", "--name", "other", "-o", "json")

	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "--domain", "api.example.com/billing", "--session-duration", "1h", "-o", "json")
	if len(app.AUD) != 64 || app.SessionDuration != "1h" || len(app.Domains) != 2 {
		t.Fatalf("app %+v", app)
	}
	r := e.ok(nil, "apps", "create", "--name", "second", "--domain", "second.example.com")
	if !strings.Contains(r.stdout, "AUD:") || !strings.Contains(r.stdout, "24h") {
		t.Fatalf("apps create table:\n%s", r.stdout)
	}
	r = e.ok(nil, "apps", "list")
	if !strings.Contains(r.stdout, "billing") || !strings.Contains(r.stdout, app.AUD) || !strings.HasPrefix(r.stdout, "ID") {
		t.Fatalf("apps list:\n%s", r.stdout)
	}
	var gotApp apiv1.App
	e.ok(&gotApp, "apps", "get", app.ID, "-o", "json")
	if gotApp.AUD != app.AUD {
		t.Fatalf("apps get %+v", gotApp)
	}

	var p apiv1.Policy
	e.ok(&p, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "token:"+tok.ID, "--exclude", "token:"+other.ID, "--name", "CI", "-o", "json")
	if p.Decision != "non_identity" || p.Include[0].ServiceToken.TokenID != tok.ID || p.Exclude[0].ServiceToken.TokenID != other.ID {
		t.Fatalf("policy %+v", p)
	}
	e.ok(nil, "policies", "create", "--app", app.ID, "--decision", "deny", "--include", "everyone")
	r = e.ok(nil, "policies", "list", "--app", app.ID)
	if !strings.Contains(r.stdout, "token:"+tok.ID) || !strings.Contains(r.stdout, "deny") || !strings.Contains(r.stdout, "everyone") {
		t.Fatalf("policies list:\n%s", r.stdout)
	}
	var policies []apiv1.Policy
	e.ok(&policies, "policies", "list", "--app", app.ID, "-o", "json")
	if len(policies) != 2 || policies[0].ID != p.ID {
		t.Fatalf("policies json %+v", policies)
	}

	var cfg apiv1.FilterConfig
	e.ok(&cfg, "filter-config", "--app", app.ID)
	if cfg.Audience != app.AUD || cfg.Issuer.Cluster != "svcauth-issuer" || len(cfg.Keys) != 1 || cfg.Keys[0].KID != app.KeyID {
		t.Fatalf("filter config %+v", cfg)
	}
	e.ok(&cfg, "filter-config", "--app", app.ID, "--cluster", "issuer_cluster", "--authority", "issuer.internal:8081", "-o", "table")
	if cfg.Issuer.Cluster != "issuer_cluster" || cfg.Issuer.Authority != "issuer.internal:8081" {
		t.Fatalf("filter config issuer %+v", cfg.Issuer)
	}

	// What the CLI set up works for an exchange, and the JWT verifies with
	// the key filter-config printed.
	jwt := exchange(t, e.url, tok, app.AUD, 200)
	key := e.keys.SessionKey(app.AUD, 1)
	v, _ := session.NewVerifier(app.AUD, []session.Key{key}, 0)
	if _, err := v.Verify(jwt, time.Now().Unix()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	exchange(t, e.url, other, app.AUD, 403)

	r = e.ok(nil, "audit", "--event", "session.issued")
	if !strings.Contains(r.stdout, "session.issued") || !strings.Contains(r.stdout, "ci") || !strings.Contains(r.stdout, "billing") {
		t.Fatalf("audit:\n%s", r.stdout)
	}
	var events []apiv1.AuditEvent
	e.ok(&events, "audit", "--token", other.ID, "-o", "json")
	if len(events) != 2 || events[0].Event != "session.denied" || events[0].TokenName != "other" {
		t.Fatalf("audit json %+v", events)
	}
}

func exchange(t *testing.T, url string, tok apiv1.Token, aud string, want int) string {
	t.Helper()
	body, _ := json.Marshal(apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: aud})
	resp, err := http.Post(url+"/v1/exchange", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("exchange: %d %s, want %d", resp.StatusCode, raw, want)
	}
	var out apiv1.ExchangeResponse
	json.Unmarshal(raw, &out)
	return out.JWT
}

func TestExitCodes(t *testing.T) {
	e := newTestEnv(t)
	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "taken", "-o", "json")

	usage := [][]string{
		{"tokens", "create"},
		{"tokens", "create", "--name", "x", "-o", "yaml"},
		{"tokens", "create", "--name", "x", "extra"},
		{"tokens", "create", "--nme", "x"},
		{"tokens", "get"},
		{"tokens", "get", "a", "b"},
		{"apps", "create", "--name", "x"},
		{"policies", "create", "--app", "a", "--decision", "non_identity"},
		{"policies", "create", "--app", "a", "--decision", "permit", "--include", "everyone"},
		{"policies", "create", "--app", "a", "--decision", "allow", "--include", "email:a@b"},
		{"policies", "create", "--app", "a", "--decision", "allow", "--include", "everyone", "--exclude", "token:"},
		{"policies", "list"},
		{"filter-config"},
		{"audit", "--since", "yesterday"},
		{"nope"},
		{"tokens", "bogus"},
		{"apps", "list", "extra"},
		{"serve", "--log-level", "loud"},
		{"serve", "--issuer-url", "not a url"},
		{"serve", "--inactive-token-days", "10"},
		{"serve", "--inactive-token-days", "30", "--inactive-token-action", "archive"},
		{"serve", "--throttle-burst", "-1"},
		{"serve", "--throttle-refill", "0s"},
		{"serve", "--throttle-keys", "10"},
		{"serve", "--trusted-proxies", "10.0.0.0/8,envoy"},
		{"serve", "--audit-denial-window", "100ms"},
		{"serve", "--audit-retention", "-1h"},
	}
	for _, args := range usage {
		r := e.run(args...)
		if r.code != ExitUsage || r.stderr == "" {
			t.Errorf("svcauth %s: exit %d, want %d; stderr %q", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}

	refused := []struct {
		args []string
		msg  string
	}{
		{[]string{"tokens", "create", "--name", "taken"}, "409 conflict"},
		{[]string{"tokens", "create", "--name", "x", "--duration", "1y"}, "400 bad_request"},
		{[]string{"tokens", "get", "00000000-0000-4000-8000-000000000000"}, "404 not_found"},
		{[]string{"apps", "create", "--name", "x", "--domain", "https://x"}, "400 bad_request"},
		{[]string{"policies", "create", "--app", "00000000-0000-4000-8000-000000000000", "--decision", "non_identity", "--include", "everyone"}, "404 not_found"},
		{[]string{"policies", "create", "--app", "missing", "--decision", "non_identity", "--include", "everyone"}, "400 bad_request"},
		{[]string{"tokens", "list", "--admin-key", keys.NewAdminKey()}, "401 unauthorized"},
		{[]string{"tokens", "list", "--url", "http://127.0.0.1:1"}, "cannot reach the issuer"},
	}
	for _, c := range refused {
		r := e.run(c.args...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("svcauth %s: exit %d, want %d; stderr %q, want %q", strings.Join(c.args, " "), r.code, ExitFailure, r.stderr, c.msg)
		}
	}

	// No admin key anywhere is a usage problem; flags beat the environment.
	delete(e.env, EnvAdminKey)
	if r := e.run("tokens", "list"); r.code != ExitUsage || !strings.Contains(r.stderr, EnvAdminKey) {
		t.Errorf("no admin key: exit %d, stderr %q", r.code, r.stderr)
	}
	e.ok(nil, "tokens", "list", "--admin-key", e.key)
	e.env[EnvAdminKey] = e.key
	e.env[EnvURL] = "http://127.0.0.1:1"
	e.ok(nil, "tokens", "list", "--url", e.url)

	for _, args := range [][]string{{"--help"}, {"tokens", "create", "--help"}, {"policies", "--help"}, {"completion", "bash"}} {
		r := e.run(args...)
		if r.code != ExitOK || r.stdout == "" {
			t.Errorf("svcauth %s: exit %d", strings.Join(args, " "), r.code)
		}
	}
	if r := e.run("tokens", "create", "--help"); !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "--duration") {
		t.Errorf("tokens create --help lacks examples:\n%s", r.stdout)
	}
}

func TestAdminKeysCommands(t *testing.T) {
	e := newTestEnv(t)
	var k apiv1.AdminKey
	e.ok(&k, "admin-keys", "create", "pipeline", "-o", "json")
	if !keys.ValidAdminKey(k.Key) {
		t.Fatalf("admin key %+v", k)
	}
	e.ok(nil, "tokens", "create", "--name", "by-pipeline", "--admin-key", k.Key)
	var events []apiv1.AuditEvent
	e.ok(&events, "audit", "--event", "token.created", "-o", "json")
	if len(events) != 1 || events[0].Actor != "pipeline" {
		t.Fatalf("audit %+v", events)
	}
	r := e.ok(nil, "admin-keys", "list")
	if !strings.Contains(r.stdout, "pipeline") || !strings.Contains(r.stdout, "initial") || strings.Contains(r.stdout, k.Key) {
		t.Fatalf("admin-keys list:\n%s", r.stdout)
	}
	e.ok(nil, "admin-keys", "revoke", k.ID)
	if r := e.run("tokens", "list", "--admin-key", k.Key); r.code != ExitFailure {
		t.Fatalf("revoked key still works: exit %d", r.code)
	}
}

// TestServeDefaults: audit retention is finite by default, and throttling
// is on.
func TestServeDefaults(t *testing.T) {
	f := (&app{}).serveCommand().Flags()
	for flag, want := range map[string]string{"audit-retention": (400 * 24 * time.Hour).String(), "throttle-burst": "10", "throttle-refill": "6s"} {
		if got := f.Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %s, want %s", flag, got, want)
		}
	}
}
