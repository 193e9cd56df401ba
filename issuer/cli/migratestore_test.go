package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// snapshot is what an operator sees of an issuer's state through its API.
type snapshot struct {
	tokens, apps, policies, keys, adminKeys, audit, certs string
}

func takeSnapshot(t *testing.T, e *testEnv, issuer string, hs, rs apiv1.App) snapshot {
	t.Helper()
	var toks []apiv1.Token
	e.ok(&toks, "tokens", "list", "-o", "json")
	for i := range toks {
		toks[i].LastSeenAt = nil // written in batches, at shutdown too: not part of the comparison
	}
	tb, _ := json.Marshal(toks)
	resp, err := http.Get("http://" + issuer + "/cdn-cgi/access/certs")
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return snapshot{
		tokens:    string(tb),
		apps:      e.ok(nil, "apps", "list", "-o", "json").stdout,
		policies:  e.ok(nil, "policies", "list", "--app", hs.ID, "-o", "json").stdout + e.ok(nil, "policies", "list", "--app", rs.ID, "-o", "json").stdout,
		keys:      e.ok(nil, "keys", "list", "--app", rs.ID, "-o", "json").stdout + e.ok(nil, "keys", "list", "--app", hs.ID, "-o", "json").stdout,
		adminKeys: e.ok(nil, "admin-keys", "list", "-o", "json").stdout,
		audit:     e.ok(nil, "audit", "--limit", "1000", "-o", "json").stdout,
		certs:     string(certs),
	}
}

// TestMigrateStoreSQLiteToPostgres moves a used SQLite issuer to
// PostgreSQL: everything the API shows is the same afterwards, the same
// admin key signs in, the same client secrets exchange (a rotated token's
// previous one during its grace too), the deleted token stays deleted and
// its client id retired; a second copy is refused, bad flags are usage
// errors, and the target's password is never printed.
func TestMigrateStoreSQLiteToPostgres(t *testing.T) {
	dir := t.TempDir()
	dbFile := filepath.Join(dir, "svcauth.db")
	env := map[string]string{"SVCAUTH_MASTER_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}
	old := startServe(t, env, "--db", dbFile, "--master-key-file", dir+"/unused.key")
	e := &testEnv{t: t, url: "http://" + old.addr, env: map[string]string{EnvURL: "http://" + old.addr, EnvAdminKey: old.adminKey}}

	var kept, rotated, deleted, rotatedNew apiv1.Token
	e.ok(&kept, "tokens", "create", "--name", "kept", "-o", "json")
	e.ok(&rotated, "tokens", "create", "--name", "rotated", "-o", "json")
	e.ok(&deleted, "tokens", "create", "--name", "deleted", "-o", "json")
	e.ok(&rotatedNew, "tokens", "rotate", rotated.ID, "--grace", "24h", "-o", "json")
	e.ok(nil, "tokens", "delete", deleted.ID)
	var hs, rs apiv1.App
	e.ok(&hs, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	e.ok(&rs, "apps", "create", "--name", "grafana", "--domain", "grafana.example.com", "--session-algorithm", "RS256", "-o", "json")
	e.ok(nil, "policies", "create", "--app", hs.ID, "--decision", "non_identity", "--include", "token:"+kept.ID, "--include", "token:"+rotated.ID)
	e.ok(nil, "policies", "create", "--app", rs.ID, "--decision", "non_identity", "--include", "any_valid_service_token")
	e.ok(nil, "keys", "rotate", "--app", rs.ID, "--activate-after", "0s")
	e.ok(nil, "admin-keys", "create", "second")
	e.ok(nil, "apps", "revoke-sessions", hs.ID) // sessions_not_before, shown in apps list
	exchange(t, "http://"+old.addr, kept, hs.AUD, 200)
	exchange(t, "http://"+old.addr, rotated, rs.AUD, 200)
	before := takeSnapshot(t, e, old.addr, hs, rs)
	if code := old.stop(t); code != 0 {
		t.Fatalf("the SQLite issuer exited %d", code)
	}

	const password = "pw-never-printed-91c2"
	dsn := dsnWithPassword(t, password)
	m := &testEnv{t: t, env: map[string]string{}}
	r := m.ok(nil, "migrate-store", "--from", "sqlite:"+dbFile, "--to", dsn)
	for _, want := range []string{"service_tokens", "audit_events", "app_keys", "retired_client_ids"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate-store's output does not name %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Fatalf("migrate-store printed the password:\n%s\n%s", r.stdout, r.stderr)
	}

	pgEnv := map[string]string{EnvDB: dsn, "SVCAUTH_MASTER_KEY": env["SVCAUTH_MASTER_KEY"]}
	moved := startServe(t, pgEnv, "--master-key-file", dir+"/unused.key")
	if moved.adminKey != "" {
		t.Fatal("the PostgreSQL issuer generated a new admin key: the copied ones were not found")
	}
	p := &testEnv{t: t, url: "http://" + moved.addr, env: map[string]string{EnvURL: "http://" + moved.addr, EnvAdminKey: old.adminKey}}
	after := takeSnapshot(t, p, moved.addr, hs, rs)
	for _, c := range []struct{ name, a, b string }{
		{"tokens", before.tokens, after.tokens}, {"apps", before.apps, after.apps}, {"policies", before.policies, after.policies},
		{"app keys", before.keys, after.keys}, {"admin keys", before.adminKeys, after.adminKeys},
		{"audit", before.audit, after.audit}, {"certs", before.certs, after.certs},
	} {
		if c.a != c.b {
			t.Errorf("%s differ after the move:\nSQLite:     %s\nPostgreSQL: %s", c.name, c.a, c.b)
		}
	}
	if !strings.Contains(after.audit, "session.issued") || !strings.Contains(after.certs, `"kid"`) {
		t.Fatalf("the compared state is missing what the test made: audit %s certs %s", after.audit, after.certs)
	}
	exchange(t, "http://"+moved.addr, kept, hs.AUD, 200)
	exchange(t, "http://"+moved.addr, rotated, hs.AUD, 200) // the previous secret, in its grace period
	exchange(t, "http://"+moved.addr, rotatedNew, rs.AUD, 200)
	exchange(t, "http://"+moved.addr, deleted, hs.AUD, 401)
	if r := p.run("tokens", "import", "--name", "reuse", "--client-id", deleted.ClientID, "--client-secret-file", "-"); r.code == 0 {
		t.Fatal("the deleted token's client id could be imported again after the move")
	}

	// A second copy into the now used database: refused, nothing changed.
	used := takeSnapshot(t, p, moved.addr, hs, rs)
	r = m.run("migrate-store", "--from", "sqlite:"+dbFile, "--to", dsn)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "not empty") || strings.Contains(r.stderr, password) {
		t.Fatalf("a copy into a non-empty target: exit %d %s", r.code, r.stderr)
	}
	if again := takeSnapshot(t, p, moved.addr, hs, rs); again != used {
		t.Fatal("the refused copy changed the target")
	}

	for _, args := range [][]string{
		{"migrate-store", "--from", dbFile, "--to", dsn},
		{"migrate-store", "--from", "sqlite:", "--to", dsn},
		{"migrate-store", "--from", "sqlite:" + dir + "/missing.db", "--to", dsn},
		{"migrate-store", "--from", "sqlite:" + dbFile, "--to", "mysql://x"},
		{"migrate-store", "--from", "sqlite:" + dbFile},
		{"migrate-store", "--from", "sqlite:" + dbFile, "--to", dsn, "-o", "yaml"},
	} {
		if r := m.run(args...); r.code != ExitUsage || strings.Contains(r.stderr, password) {
			t.Errorf("svcauth %s: exit %d, want %d (usage)\n%s", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
}
