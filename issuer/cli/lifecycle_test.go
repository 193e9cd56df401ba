package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

func TestTokenLifecycleCommands(t *testing.T) {
	e := newTestEnv(t)
	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	var pol apiv1.Policy
	e.ok(&pol, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "token:"+tok.ID, "-o", "json")

	var got apiv1.Token
	e.ok(&got, "tokens", "rename", tok.ID, "ci-prod", "-o", "json")
	if got.Name != "ci-prod" {
		t.Fatalf("rename %+v", got)
	}
	e.ok(&got, "tokens", "set-duration", tok.ID, "48h", "-o", "json")
	if got.Duration != "48h" {
		t.Fatalf("set-duration %+v", got)
	}
	e.ok(&got, "tokens", "disable", tok.ID, "-o", "json")
	if got.Enabled {
		t.Fatal("disable left the token enabled")
	}
	exchange(t, e.url, tok, app.AUD, 401)
	e.ok(nil, "tokens", "enable", tok.ID)
	exchange(t, e.url, tok, app.AUD, 200)
	e.ok(&got, "tokens", "refresh", tok.ID, "-o", "json")

	var rotated apiv1.Token
	e.ok(&rotated, "tokens", "rotate", tok.ID, "--grace", "24h", "-o", "json")
	if !credential.ValidSecret(rotated.ClientSecret) || rotated.ClientSecretVersion != 2 || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate %+v", rotated)
	}
	exchange(t, e.url, tok, app.AUD, 200)
	exchange(t, e.url, rotated, app.AUD, 200)
	r := e.ok(nil, "tokens", "rotate", tok.ID)
	if !strings.Contains(r.stdout, "Client Secret:") || !strings.Contains(r.stderr, "never shown again") {
		t.Fatalf("rotate table:\n%s\n%s", r.stdout, r.stderr)
	}
	exchange(t, e.url, rotated, app.AUD, 401)
	if r := e.run("tokens", "rotate", tok.ID, "--grace", "721h"); r.code != ExitUsage {
		t.Fatalf("rotate --grace 721h: exit %d", r.code)
	}

	if r := e.run("tokens", "delete", tok.ID); r.code != ExitFailure || !strings.Contains(r.stderr, "409") || !strings.Contains(r.stderr, pol.ID) {
		t.Fatalf("delete of a named token: exit %d, %s", r.code, r.stderr)
	}
	r = e.ok(nil, "tokens", "delete", tok.ID, "--force")
	if !strings.Contains(r.stdout, "Deleted service token") {
		t.Fatalf("delete output %q", r.stdout)
	}
	exchange(t, e.url, tok, app.AUD, 401)

	var events []apiv1.AuditEvent
	e.ok(&events, "audit", "--token", tok.ID, "-o", "json")
	var names []string
	for _, ev := range events {
		names = append(names, ev.Event)
		if ev.TokenName == "" {
			t.Errorf("%s row without the token name", ev.Event)
		}
	}
	joined := strings.Join(names, " ")
	for _, want := range []string{"token.created", "token.updated", "token.refreshed", "token.rotated", "token.deleted", "session.issued", "session.denied"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %s: %s", want, joined)
		}
	}
}

func TestImportCommand(t *testing.T) {
	e := newTestEnv(t)
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	e.ok(nil, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "any_valid_service_token")

	secret := strings.Repeat("a1b2c3d4", 8)
	id := credential.NewClientID()
	e.in = secret + "\n"
	var tok apiv1.Token
	e.ok(&tok, "tokens", "import", "--name", "from-cf", "--client-id", id, "--client-secret-file", "-", "-o", "json")
	if tok.ClientID != id || tok.ClientSecret != "" {
		t.Fatalf("import %+v", tok)
	}
	tok.ClientSecret = secret
	exchange(t, e.url, tok, app.AUD, 200)

	file := filepath.Join(t.TempDir(), "secret")
	other := strings.Repeat("0f", 32)
	os.WriteFile(file, []byte(other), 0o600)
	id2 := credential.NewClientID()
	e.ok(nil, "tokens", "import", "--name", "from-file", "--client-id", id2, "--client-secret-file", file)
	exchange(t, e.url, apiv1.Token{ClientID: id2, ClientSecret: other}, app.AUD, 200)

	os.WriteFile(file, []byte("not a secret"), 0o600)
	if r := e.run("tokens", "import", "--name", "bad", "--client-id", credential.NewClientID(), "--client-secret-file", file); r.code != ExitFailure || strings.Contains(r.stderr, "not a secret") {
		t.Fatalf("bad secret file: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("tokens", "import", "--name", "bad", "--client-id", "x", "--client-secret-file", file); r.code != ExitUsage {
		t.Fatalf("bad client id: exit %d", r.code)
	}
	if r := e.run("tokens", "import", "--name", "bad", "--client-id", id); r.code != ExitUsage {
		t.Fatalf("no secret file: exit %d", r.code)
	}
	e.in = secret
	if r := e.run("tokens", "import", "--name", "dup", "--client-id", id, "--client-secret-file", "-"); r.code != ExitFailure || !strings.Contains(r.stderr, "409") {
		t.Fatalf("duplicate client id: exit %d %q", r.code, r.stderr)
	}
}

func TestAppAndPolicyLifecycleCommands(t *testing.T) {
	e := newTestEnv(t)
	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	var pol apiv1.Policy
	e.ok(&pol, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "any_valid_service_token", "-o", "json")
	var revoked apiv1.App
	e.ok(&revoked, "apps", "revoke-sessions", app.ID, "-o", "json")
	if revoked.SessionsNotBefore == nil {
		t.Fatalf("revoke-sessions %+v", revoked)
	}
	exchange(t, e.url, tok, app.AUD, 200)
	e.ok(nil, "policies", "delete", "--app", app.ID, pol.ID)
	exchange(t, e.url, tok, app.AUD, 403)
	if r := e.run("policies", "delete", pol.ID); r.code != ExitUsage {
		t.Fatalf("policies delete without --app: exit %d", r.code)
	}
	e.ok(nil, "apps", "delete", app.ID)
	if r := e.run("apps", "get", app.ID); r.code != ExitFailure || !strings.Contains(r.stderr, "404") {
		t.Fatalf("get deleted app: exit %d %q", r.code, r.stderr)
	}
}
