package cli

import (
	"net/url"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dsnWithPassword is a fresh test database's DSN with password in it: the
// test server trusts loopback and ignores it, so tests can check that the
// password is never printed.
func dsnWithPassword(t *testing.T, password string) string {
	t.Helper()
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// TestServeOnPostgres: two `svcauth serve` replicas on one PostgreSQL
// database, the DSN (with a password) given in $SVCAUTH_DB: a token and an
// app created through one replica exchange through the other, and neither
// replica logs the password.
func TestServeOnPostgres(t *testing.T) {
	const password = "pw-never-logged-7f3a"
	dir := t.TempDir()
	env := map[string]string{EnvDB: dsnWithPassword(t, password), "SVCAUTH_MASTER_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}
	a := startServe(t, env, "--master-key-file", dir+"/unused.key")
	b := startServe(t, env, "--master-key-file", dir+"/unused.key")
	if a.adminKey == "" || b.adminKey != "" {
		t.Fatalf("want one admin key, from the first replica; got %q and %q", a.adminKey, b.adminKey)
	}
	ea := &testEnv{t: t, url: "http://" + a.addr, env: map[string]string{EnvURL: "http://" + a.addr, EnvAdminKey: a.adminKey}}
	var tok apiv1.Token
	ea.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	var app apiv1.App
	ea.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	ea.ok(nil, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "any_valid_service_token")
	exchange(t, "http://"+b.addr, tok, app.AUD, 200)

	eb := &testEnv{t: t, url: "http://" + b.addr, env: map[string]string{EnvURL: "http://" + b.addr, EnvAdminKey: a.adminKey}}
	if r := eb.run("tokens", "create", "--name", "ci"); r.code != ExitFailure || !strings.Contains(r.stderr, "409") {
		t.Fatalf("the same name on the other replica: exit %d %s", r.code, r.stderr)
	}
	for _, s := range []*servedIssuer{a, b} {
		out := s.output()
		if strings.Contains(out, password) || !strings.Contains(out, "xxxxx") {
			t.Fatalf("the log shows the DSN's password, or not the redacted DSN:\n%s", out)
		}
	}
}
