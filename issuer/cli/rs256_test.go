package cli

import (
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// TestSessionAlgorithmCommands: apps create and update take
// --session-algorithm; keys rotate keeps the app's algorithm; keys list and
// apps get show it; filter-config of an RS256 app holds no secret.
func TestSessionAlgorithmCommands(t *testing.T) {
	e := newTestEnv(t)
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "grafana", "--domain", "grafana.example.com", "--session-algorithm", "RS256", "-o", "json")
	if app.SessionAlgorithm != "RS256" {
		t.Fatalf("apps create: %+v", app)
	}
	if r := e.ok(nil, "apps", "get", app.ID); !strings.Contains(r.stdout, "RS256") {
		t.Fatalf("apps get table:\n%s", r.stdout)
	}
	var k apiv1.AppKey
	e.ok(&k, "keys", "rotate", "--app", app.ID, "--activate-after", "0s", "-o", "json")
	if k.Algorithm != "RS256" || k.Version != 2 {
		t.Fatalf("keys rotate: %+v", k)
	}
	r := e.ok(nil, "filter-config", "--app", app.ID)
	if strings.Contains(r.stdout, `"key"`) || !strings.Contains(r.stdout, `"alg": "RS256"`) {
		t.Fatalf("filter-config of an RS256 app:\n%s", r.stdout)
	}

	r = e.ok(nil, "filter-config", "--app", app.ID, "--format", "istio")
	if strings.Contains(r.stdout, "key:") || strings.Contains(r.stdout, `"key"`) || !strings.Contains(r.stdout, "RS256") || !strings.Contains(r.stdout, "kind: WasmPlugin") {
		t.Fatalf("Istio WasmPlugin of an RS256 app:\n%s", r.stdout)
	}

	var got apiv1.App
	e.ok(&got, "apps", "update", app.ID, "--session-algorithm", "HS256", "--activate-after", "1m", "-o", "json")
	if got.SessionAlgorithm != "HS256" || got.KeyVersion != 3 {
		t.Fatalf("apps update --session-algorithm: %+v", got)
	}
	if r := e.ok(nil, "keys", "list", "--app", app.ID); strings.Count(r.stdout, "RS256") != 2 || strings.Count(r.stdout, "HS256") != 1 || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("keys list:\n%s", r.stdout)
	}
	if r := e.run("apps", "update", app.ID, "--activate-after", "1m"); r.code != ExitUsage {
		t.Fatalf("--activate-after alone: exit %d", r.code)
	}
	for _, args := range [][]string{
		{"apps", "create", "--name", "x", "--domain", "x.example.com", "--session-algorithm", "ES256"},
		{"apps", "update", app.ID, "--session-algorithm", "none"},
	} {
		if r := e.run(args...); r.code != ExitFailure || !strings.Contains(r.stderr, "session_algorithm") {
			t.Errorf("svcauth %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
