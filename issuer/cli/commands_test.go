package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
)

// allCommands returns every command of the tree under c, c included, but
// not cobra's help command nor its hidden completion helpers.
func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Hidden {
			continue
		}
		out = append(out, allCommands(sub)...)
	}
	return out
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	e := newTestEnv(t)
	root := (&app{}).rootCommand()
	cmds := allCommands(root)
	if len(cmds) < 30 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, c := range cmds {
		path := c.CommandPath()
		if c.Short == "" || strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no short description or no example", path)
			continue
		}
		args := append(strings.Fields(strings.TrimPrefix(path, "svcauth")), "--help")
		r := e.run(args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "Examples:") || r.stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q, stdout:\n%s", path, r.code, r.stderr, r.stdout)
		}
	}
}

func TestShellCompletion(t *testing.T) {
	e := newTestEnv(t)
	for shell, marker := range map[string]string{
		"bash":       "__start_svcauth",
		"zsh":        "#compdef svcauth",
		"fish":       "complete -c svcauth",
		"powershell": "Register-ArgumentCompleter",
	} {
		r := e.run("completion", shell)
		if r.code != ExitOK || !strings.Contains(r.stdout, marker) || len(r.stdout) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes, marker %q missing? stderr %q", shell, r.code, len(r.stdout), marker, r.stderr)
		}
	}
	// What the scripts call back: the subcommands and flags of a command.
	r := e.run("__complete", "tokens", "")
	for _, want := range []string{"create", "list", "get", "rename", "set-duration", "refresh", "rotate", "enable", "disable", "delete", "import"} {
		if r.code != ExitOK || !strings.Contains(r.stdout, "\n"+want+"\t") && !strings.HasPrefix(r.stdout, want+"\t") {
			t.Errorf("completion of 'svcauth tokens ' lacks %s:\n%s", want, r.stdout)
		}
	}
	r = e.run("__complete", "tokens", "rotate", "ID", "--")
	if !strings.Contains(r.stdout, "--grace") {
		t.Errorf("completion of rotate flags lacks --grace:\n%s", r.stdout)
	}
	if r := e.run("completion", "tcsh"); r.code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", r.code, ExitUsage)
	}
}

func TestAppsUpdateAndPolicyGetUpdateCommands(t *testing.T) {
	e := newTestEnv(t)
	var tok, other apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	e.ok(&other, "tokens", "create", "--name", "other", "-o", "json")
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	e.ok(nil, "apps", "create", "--name", "taken", "--domain", "taken.example.com")

	var got apiv1.App
	e.ok(&got, "apps", "update", app.ID, "--name", "billing-prod", "--domain", "a.example.com", "--domain", "b.example.com/api", "--session-duration", "2h", "-o", "json")
	if got.Name != "billing-prod" || strings.Join(got.Domains, ",") != "a.example.com,b.example.com/api" || got.SessionDuration != "2h" || got.AUD != app.AUD {
		t.Fatalf("apps update %+v", got)
	}
	r := e.ok(nil, "apps", "update", app.ID, "--session-duration", "30m")
	if !strings.Contains(r.stdout, "30m") || !strings.Contains(r.stdout, "billing-prod") {
		t.Fatalf("apps update table:\n%s", r.stdout)
	}

	var p apiv1.Policy
	e.ok(&p, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "any_valid_service_token", "--exclude", "token:"+other.ID, "-o", "json")
	exchange(t, e.url, tok, app.AUD, 200)
	exchange(t, e.url, other, app.AUD, 403)
	var pol apiv1.Policy
	e.ok(&pol, "policies", "get", "--app", app.ID, p.ID, "-o", "json")
	if pol.ID != p.ID || len(pol.Exclude) != 1 {
		t.Fatalf("policies get %+v", pol)
	}
	e.ok(&pol, "policies", "update", "--app", app.ID, p.ID, "--clear-exclude", "-o", "json")
	if len(pol.Exclude) != 0 || len(pol.Include) != 1 || pol.Decision != "non_identity" {
		t.Fatalf("policies update --clear-exclude %+v", pol)
	}
	exchange(t, e.url, other, app.AUD, 200)
	e.ok(&pol, "policies", "update", "--app", app.ID, p.ID, "--decision", "deny", "--include", "token:"+tok.ID, "--name", "no CI", "-o", "json")
	if pol.Decision != "deny" || pol.Name != "no CI" || pol.Include[0].ServiceToken == nil || pol.Include[0].ServiceToken.TokenID != tok.ID {
		t.Fatalf("policies update %+v", pol)
	}
	exchange(t, e.url, tok, app.AUD, 403)
	r = e.ok(nil, "policies", "get", "--app", app.ID, p.ID)
	if !strings.Contains(r.stdout, "deny") || !strings.Contains(r.stdout, "token:"+tok.ID) {
		t.Fatalf("policies get table:\n%s", r.stdout)
	}

	for _, args := range [][]string{
		{"apps", "update", app.ID},
		{"apps", "update"},
		{"policies", "get", p.ID},
		{"policies", "update", "--app", app.ID, p.ID},
		{"policies", "update", "--app", app.ID, p.ID, "--decision", "permit"},
		{"policies", "update", "--app", app.ID, p.ID, "--precedence", "0"},
		{"policies", "update", "--app", app.ID, p.ID, "--include", "email:x"},
		{"policies", "update", "--app", app.ID, p.ID, "--exclude", "everyone", "--clear-exclude"},
	} {
		if r := e.run(args...); r.code != ExitUsage {
			t.Errorf("svcauth %s: exit %d, want %d; stderr %q", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"apps", "update", app.ID, "--name", "taken"}, "409 conflict"},
		{[]string{"apps", "update", app.ID, "--session-duration", "800h"}, "400 bad_request"},
		{[]string{"apps", "update", "not-an-id", "--name", "x"}, "400 bad_request"},
		{[]string{"apps", "update", "00000000-0000-4000-8000-000000000000", "--name", "x"}, "404 not_found"},
		{[]string{"policies", "update", "--app", app.ID, p.ID, "--include", "token:00000000-0000-4000-8000-000000000000"}, "400 bad_request"},
		{[]string{"policies", "get", "--app", app.ID, "00000000-0000-4000-8000-000000000000"}, "404 not_found"},
	} {
		if r := e.run(c.args...); r.code != ExitFailure || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("svcauth %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), r.code, r.stderr, ExitFailure, c.msg)
		}
	}
	e.ok(&got, "apps", "get", app.ID, "-o", "json")
	if got.Name != "billing-prod" || got.SessionDuration != "30m0s" {
		t.Fatalf("refused updates changed the app: %+v", got)
	}
}

// clockEnv is a testEnv whose issuer runs on a clock the test moves.
type clockEnv struct {
	*testEnv
	*testenv.Clock
}

func newClockEnv(t *testing.T) *clockEnv {
	t.Helper()
	ctx := context.Background()
	store := testenv.SQLite(t)
	kr := testenv.Keyring(t, 7)
	c := &clockEnv{Clock: testenv.NewClock(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))}
	srv, err := api.New(api.Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := api.EnsureInitialAdminKey(ctx, store, kr, c.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c.testEnv = &testEnv{t: t, url: ts.URL, key: key, keys: kr, env: map[string]string{EnvURL: ts.URL, EnvAdminKey: key}}
	return c
}

func TestTokenStatusesInCLI(t *testing.T) {
	e := newClockEnv(t)
	want := map[string]string{}
	for name, duration := range map[string]string{"active": "8760h", "expiring": "720h", "expired": "1h", "disabled": "8760h", "forever": "forever"} {
		var tok apiv1.Token
		e.ok(&tok, "tokens", "create", "--name", name, "--duration", duration, "-o", "json")
		want[name] = tok.ID
	}
	e.ok(nil, "tokens", "disable", want["disabled"])
	e.Advance(700 * time.Hour) // "expiring" has 20 h left, "expired" ended long ago

	r := e.ok(nil, "tokens", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "STATUS") || !strings.Contains(lines[0], "EXPIRES") || !strings.Contains(lines[0], "LAST SEEN") {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	status := map[string]string{"forever": "active"}
	for _, name := range []string{"active", "expiring", "expired", "disabled"} {
		status[name] = name
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || status[f[1]] != f[3] {
			t.Errorf("list row %q: want status %q", line, status[f[1]])
		}
	}
	var list []apiv1.Token
	e.ok(&list, "tokens", "list", "-o", "json")
	for _, tok := range list {
		if tok.Status != status[tok.Name] {
			t.Errorf("%s: json status %q, want %q", tok.Name, tok.Status, status[tok.Name])
		}
	}
	r = e.ok(nil, "tokens", "get", want["expiring"])
	if !strings.Contains(r.stdout, "expiring") {
		t.Errorf("get table lacks the expiring status:\n%s", r.stdout)
	}
	// Refresh brings an expired token back: expires_at = now + duration.
	var tok apiv1.Token
	e.ok(&tok, "tokens", "refresh", want["expired"], "-o", "json")
	if tok.Status != "expiring" || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(e.Now().Add(time.Hour)) {
		t.Fatalf("refreshed %+v", tok)
	}
	// A new duration restarts the expiry from now.
	e.ok(&tok, "tokens", "set-duration", want["expiring"], "8760h", "-o", "json")
	if tok.Status != "active" || !tok.ExpiresAt.Equal(e.Now().Add(8760*time.Hour)) {
		t.Fatalf("set-duration %+v", tok)
	}
}

func TestAuditPagingAndJSONEverywhere(t *testing.T) {
	e := newTestEnv(t)
	var ids []string
	for i := 0; i < 5; i++ {
		var tok apiv1.Token
		e.ok(&tok, "tokens", "create", "--name", "t"+strconv.Itoa(i), "-o", "json")
		ids = append(ids, tok.ID)
	}
	r := e.ok(nil, "audit", "--event", "token.created", "--limit", "2")
	if !strings.Contains(r.stderr, "--before") || strings.Count(strings.TrimSpace(r.stdout), "\n") != 2 {
		t.Fatalf("first page:\n%s\nstderr %q", r.stdout, r.stderr)
	}
	var seen []string
	before := ""
	for page := 0; page < 5; page++ {
		args := []string{"audit", "--event", "token.created", "--limit", "2", "-o", "json"}
		if before != "" {
			args = append(args, "--before", before)
		}
		var events []apiv1.AuditEvent
		r := e.ok(&events, args...)
		for _, ev := range events {
			seen = append(seen, ev.TokenID)
		}
		_, next, ok := strings.Cut(r.stderr, "--before ")
		if !ok {
			break
		}
		before = strings.Fields(next)[0]
	}
	if len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("paged audit, newest first: %v; created %v", seen, ids)
	}
	if r := e.run("audit", "--before", "-3"); r.code != ExitUsage {
		t.Fatalf("--before -3: exit %d", r.code)
	}
	if r := e.run("audit", "--limit", "1001"); r.code != ExitUsage {
		t.Fatalf("--limit 1001: exit %d", r.code)
	}

	// Every token command answers JSON with -o json, delete included.
	var out map[string]any
	e.ok(&out, "tokens", "delete", ids[0], "-o", "json")
	if out["deleted"] != true || out["id"] != ids[0] {
		t.Fatalf("delete -o json: %v", out)
	}
	for _, args := range [][]string{
		{"tokens", "rename", ids[1], "renamed"}, {"tokens", "set-duration", ids[1], "48h"}, {"tokens", "disable", ids[1]},
		{"tokens", "enable", ids[1]}, {"tokens", "refresh", ids[1]}, {"tokens", "rotate", ids[1], "--grace", "1h"},
		{"tokens", "get", ids[1]}, {"tokens", "list", "--name", "renamed"},
	} {
		r := e.ok(nil, append(args, "-o", "json")...)
		if !json.Valid([]byte(r.stdout)) {
			t.Errorf("svcauth %s -o json: not JSON:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}

func TestImportTakesNoSecretFlag(t *testing.T) {
	e := newTestEnv(t)
	secret := strings.Repeat("ab", 32)
	for _, flag := range []string{"--client-secret", "--secret"} {
		r := e.run("tokens", "import", "--name", "x", "--client-id", "0123456789abcdef0123456789abcdef.access", flag, secret)
		if r.code != ExitUsage || strings.Contains(r.stderr, secret) {
			t.Errorf("import %s: exit %d, stderr %q", flag, r.code, r.stderr)
		}
	}
	r := e.ok(nil, "tokens", "import", "--help")
	if strings.Contains(r.stdout, "--client-secret ") || !strings.Contains(r.stdout, "--client-secret-file") {
		t.Errorf("import --help:\n%s", r.stdout)
	}
}
