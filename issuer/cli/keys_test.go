package cli

import (
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func TestKeysCommands(t *testing.T) {
	e := newTestEnv(t)
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	kid := func(v string) string { return app.AUD[:12] + ".v" + v }

	var keys []apiv1.AppKey
	e.ok(&keys, "keys", "list", "--app", app.ID, "-o", "json")
	if len(keys) != 1 || keys[0].KID != kid("1") || keys[0].State != "signing" {
		t.Fatalf("keys of a new app %+v", keys)
	}

	r := e.ok(nil, "keys", "rotate", "--app", app.ID)
	if !strings.Contains(r.stdout, kid("2")) || !strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "Signs from") {
		t.Fatalf("keys rotate:\n%s", r.stdout)
	}
	var k3 apiv1.AppKey
	e.ok(&k3, "keys", "rotate", "--app", app.ID, "--activate-after", "0s", "-o", "json")
	if k3.KID != kid("3") || k3.State != "signing" {
		t.Fatalf("immediate rotation %+v", k3)
	}
	r = e.ok(nil, "keys", "list", "--app", app.ID)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "KID") || !strings.Contains(lines[0], "RETIRES") ||
		!strings.Contains(lines[1], kid("1")) || !strings.Contains(lines[1], "previous") ||
		!strings.Contains(lines[3], kid("3")) || !strings.Contains(lines[3], "signing") || !strings.HasSuffix(strings.TrimSpace(lines[3]), "signing") {
		t.Fatalf("keys list:\n%s", r.stdout)
	}

	var cfg apiv1.FilterConfig
	e.ok(&cfg, "filter-config", "--app", app.ID)
	if len(cfg.Keys) != 3 || cfg.Issuer.SyncPath != "/v1/filter-sync" || cfg.SyncPeriodMS != 2000 ||
		cfg.SessionCacheSize != 4096 || cfg.CredentialCacheSize != 4096 {
		t.Fatalf("filter-config after rotations %+v", cfg)
	}

	var events []apiv1.AuditEvent
	e.ok(&events, "audit", "--event", "app.key_rotated", "-o", "json")
	if len(events) != 2 {
		t.Fatalf("app.key_rotated events %+v", events)
	}

	for _, args := range [][]string{
		{"keys", "rotate"},
		{"keys", "list"},
		{"keys", "rotate", "--app", app.ID, "--activate-after", "2h"},
		{"keys", "rotate", "--app", app.ID, "--activate-after", "-1s"},
		{"keys", "rotate", "--app", app.ID, "--activate-after", "soon"},
		{"keys", "list", "--app", app.ID, "extra"},
		{"keys", "bogus"},
	} {
		if r := e.run(args...); r.code != ExitUsage {
			t.Errorf("svcauth %s: exit %d, want %d; stderr %q", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"keys", "rotate", "--app", "00000000-0000-4000-8000-000000000000"},
		{"keys", "list", "--app", "00000000-0000-4000-8000-000000000000"},
	} {
		if r := e.run(args...); r.code != ExitFailure || !strings.Contains(r.stderr, "404") {
			t.Errorf("svcauth %s: exit %d, want %d; stderr %q", strings.Join(args, " "), r.code, ExitFailure, r.stderr)
		}
	}
	if r := e.run("keys", "--help"); r.code != ExitOK || !strings.Contains(r.stdout, "publishes a new version") {
		t.Errorf("keys --help: exit %d\n%s", r.code, r.stdout)
	}
}
