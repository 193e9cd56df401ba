package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func TestCleanupInactiveTokens(t *testing.T) {
	h, app := lifecycleHarness(t)
	ctx := context.Background()
	idle := h.createToken("idle", "forever")
	named := h.createToken("named", "forever")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(named.ID)}, nil)
	h.Advance(20 * 24 * time.Hour)
	used := h.createToken("fresh", "forever")
	active := h.createToken("active", "forever")
	h.Advance(15 * 24 * time.Hour)
	h.wantExchange(active, app.AUD, 200, "")
	h.Advance(20 * 24 * time.Hour) // idle and named: 55 days; fresh: 35 days unused; active: seen 20 days ago

	for _, bad := range []struct {
		days   int
		action string
	}{{29, "disable"}, {366, "disable"}, {30, "archive"}} {
		if _, err := h.srv.CleanupInactiveTokens(ctx, bad.days, bad.action); err == nil {
			t.Errorf("accepted %d days / %s", bad.days, bad.action)
		}
	}
	n, err := h.srv.CleanupInactiveTokens(ctx, 30, "delete")
	if err != nil || n != 3 {
		t.Fatalf("cleanup: %d, %v; want 3", n, err)
	}
	h.call(request{method: "GET", path: "/v1/service-tokens/" + idle.ID}, 404, nil)
	h.call(request{method: "GET", path: "/v1/service-tokens/" + used.ID}, 404, nil)
	var got apiv1.Token
	h.call(request{method: "GET", path: "/v1/service-tokens/" + named.ID}, 200, &got)
	if got.Enabled {
		t.Fatal("inactive token named by a policy still enabled")
	}
	h.call(request{method: "GET", path: "/v1/service-tokens/" + active.ID}, 200, &got)
	if !got.Enabled {
		t.Fatal("active token cleaned up")
	}
	rows := h.audit("event=token.deleted")
	if len(rows) != 2 || rows[0].Actor != "system" || rows[0].Reason != "inactive" {
		t.Fatalf("audit %+v", rows)
	}
	if n, _ := h.srv.CleanupInactiveTokens(ctx, 30, "delete"); n != 0 {
		t.Fatalf("second run changed %d tokens", n)
	}
}

func TestPruneAudit(t *testing.T) {
	h := newHarness(t)
	h.createToken("old", "")
	h.Advance(48 * time.Hour)
	h.createToken("new", "")
	n, err := h.srv.PruneAudit(context.Background(), 24*time.Hour)
	if err != nil || n != 2 { // the initial admin key row and token "old"
		t.Fatalf("pruned %d, %v", n, err)
	}
	if rows := h.audit(""); len(rows) != 1 || rows[0].TokenName != "new" {
		t.Fatalf("audit after pruning %+v", rows)
	}
	if n, _ := h.srv.PruneAudit(context.Background(), 0); n != 0 {
		t.Fatal("retention 0 deleted events")
	}
}

func TestCleanupInactiveTokensDisables(t *testing.T) {
	h, app := lifecycleHarness(t)
	ctx := context.Background()
	idle := h.createToken("idle", "forever")
	disabled := h.createToken("already-disabled", "forever")
	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + disabled.ID, body: `{"enabled":false}`}, 200, nil)
	recent := h.createToken("recent", "forever")
	h.Advance(364 * 24 * time.Hour)
	h.wantExchange(recent, app.AUD, 200, "") // seen; not yet flushed: clean-up flushes first
	h.Advance(2 * 24 * time.Hour)

	if n, err := h.srv.CleanupInactiveTokens(ctx, 0, "delete"); err != nil || n != 0 {
		t.Fatalf("clean-up off (0 days): %d, %v", n, err)
	}
	n, err := h.srv.CleanupInactiveTokens(ctx, 365, "disable")
	if err != nil || n != 1 {
		t.Fatalf("cleanup: %d, %v; want 1", n, err)
	}
	var got apiv1.Token
	h.call(request{method: "GET", path: "/v1/service-tokens/" + idle.ID}, 200, &got)
	if got.Enabled || got.Status != "disabled" {
		t.Fatalf("idle token after clean-up %+v", got)
	}
	h.wantExchange(idle, app.AUD, 401, "token_disabled")
	h.call(request{method: "GET", path: "/v1/service-tokens/" + recent.ID}, 200, &got)
	if !got.Enabled || got.LastSeenAt == nil {
		t.Fatalf("recently used token after clean-up %+v", got)
	}
	rows := h.audit("event=token.updated&token_id=" + idle.ID)
	if len(rows) != 1 || rows[0].Actor != "system" || rows[0].Reason != "inactive" || rows[0].TokenName != "idle" ||
		rows[0].ClientID != idle.ClientID || !strings.Contains(rows[0].Detail, "inactive for 365 days") {
		t.Fatalf("audit %+v", rows)
	}
	if rows := h.audit("token_id=" + disabled.ID); len(rows) != 2 { // created, disabled by the admin; not again
		t.Fatalf("already disabled token: audit %+v", rows)
	}
}
