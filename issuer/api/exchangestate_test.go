package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// countingStore counts the storage calls the exchange could make: every
// read it uses and every write.
type countingStore struct {
	storage.Storage
	mu    sync.Mutex
	calls map[string]int
	// gate, when not nil, holds every AppendAudits until it is closed.
	gate chan struct{}
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
}

// take returns the calls so far and starts counting afresh.
func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *countingStore) GetTokenByClientID(ctx context.Context, id string) (domain.Token, error) {
	c.count("GetTokenByClientID")
	return c.Storage.GetTokenByClientID(ctx, id)
}
func (c *countingStore) GetToken(ctx context.Context, id string) (domain.Token, error) {
	c.count("GetToken")
	return c.Storage.GetToken(ctx, id)
}
func (c *countingStore) GetAppByAUD(ctx context.Context, aud string) (domain.App, error) {
	c.count("GetAppByAUD")
	return c.Storage.GetAppByAUD(ctx, aud)
}
func (c *countingStore) ListPolicies(ctx context.Context, appID string) ([]domain.Policy, error) {
	c.count("ListPolicies")
	return c.Storage.ListPolicies(ctx, appID)
}
func (c *countingStore) ListAppKeys(ctx context.Context, appID string) ([]domain.AppKey, error) {
	c.count("ListAppKeys")
	return c.Storage.ListAppKeys(ctx, appID)
}
func (c *countingStore) ListAdminKeys(ctx context.Context) ([]domain.AdminKey, error) {
	c.count("ListAdminKeys")
	return c.Storage.ListAdminKeys(ctx)
}
func (c *countingStore) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	c.count("write:AppendAudit")
	return c.Storage.AppendAudit(ctx, e)
}
func (c *countingStore) AppendAudits(ctx context.Context, e []domain.AuditEvent) error {
	c.count("write:AppendAudits")
	if c.gate != nil {
		<-c.gate
	}
	return c.Storage.AppendAudits(ctx, e)
}
func (c *countingStore) TouchTokens(ctx context.Context, seen map[string]time.Time) error {
	c.count("write:TouchTokens")
	return c.Storage.TouchTokens(ctx, seen)
}
func (c *countingStore) UpdateToken(ctx context.Context, id string, u func(domain.Token) (domain.Token, error)) (domain.Token, error) {
	c.count("write:UpdateToken")
	return c.Storage.UpdateToken(ctx, id, u)
}
func (c *countingStore) UpdateApp(ctx context.Context, id string, u func(domain.App) (domain.App, error)) (domain.App, error) {
	c.count("write:UpdateApp")
	return c.Storage.UpdateApp(ctx, id, u)
}
func (c *countingStore) CreateToken(ctx context.Context, t domain.Token) error {
	c.count("write:CreateToken")
	return c.Storage.CreateToken(ctx, t)
}

// newCountingHarness is newHarness with a countingStore between the server
// and SQLite, and cfg applied to the server's configuration.
func newCountingHarness(t *testing.T, cfg func(*api.Config)) (*harness, *countingStore) {
	t.Helper()
	var cs *countingStore
	h := newHarnessWith(t, func(db storage.Storage) storage.Storage {
		cs = &countingStore{Storage: db, calls: map[string]int{}}
		return cs
	}, cfg)
	return h, cs
}

func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if strings.HasPrefix(k, "write:") {
			out[k] = v
		}
	}
	return out
}

// TestExchangeWritesNothingPerRequest: warm exchanges neither write to nor
// read from the database; the audit rows and last_seen_at are written in
// one batch later, the 200 identical denials as one row. (Throttling off:
// the good and the bad secret come from one source, which the limit would
// rightly stop after 10 failures.)
func TestExchangeWritesNothingPerRequest(t *testing.T) {
	h, cs := newCountingHarness(t, func(c *api.Config) { c.AuditFlushInterval = time.Hour; c.ThrottleOff = true })
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	other := h.createToken("other", "")

	// Cold: one indexed read for the token, three for the app.
	cs.take()
	h.wantExchange(tok, app.AUD, 200, "")
	if got := cs.take(); len(writes(got)) != 0 || got["GetTokenByClientID"] != 1 || got["GetAppByAUD"] != 1 ||
		got["ListPolicies"] != 1 || got["ListAppKeys"] != 1 {
		t.Fatalf("cold exchange storage calls %v", got)
	}
	// A second token: one read.
	h.wantExchange(other, app.AUD, 200, "")
	if got := cs.take(); len(got) != 1 || got["GetTokenByClientID"] != 1 {
		t.Fatalf("first exchange of another token: storage calls %v, want one token read", got)
	}

	// Warm: nothing at all, issued or denied.
	wrong := tok
	wrong.ClientSecret = other.ClientSecret
	for i := 0; i < 200; i++ {
		h.wantExchange(tok, app.AUD, 200, "")
		h.wantExchange(wrong, app.AUD, 401, "invalid_secret")
	}
	if got := cs.take(); len(got) != 0 {
		t.Fatalf("400 warm exchanges made storage calls %v, want none", got)
	}
	// The cache's metric says the same: two token reads and one app read,
	// every other lookup a hit (denied exchanges look up too).
	metrics := h.do(request{method: "GET", path: "/metrics", key: ptr("")}).Body.String()
	for _, want := range []string{
		`svcauth_exchange_cache_lookups_total{cache="token",result="miss"} 2` + "\n",
		`svcauth_exchange_cache_lookups_total{cache="token",result="hit"} 400` + "\n",
		`svcauth_exchange_cache_lookups_total{cache="app",result="miss"} 1` + "\n",
		`svcauth_exchange_cache_lookups_total{cache="app",result="hit"} 401` + "\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}

	// The batched writes: one audit batch, one last-seen update.
	if err := h.srv.FlushLastSeen(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := writes(cs.take()); got["write:AppendAudits"] != 1 || got["write:TouchTokens"] != 1 || len(got) != 2 {
		t.Fatalf("flush writes %v, want one AppendAudits and one TouchTokens", got)
	}
	if n := len(h.audit("event=session.issued&limit=1000")); n != 202 {
		t.Fatalf("%d session.issued rows, want 202", n)
	}
	if denied := h.audit("event=session.denied&limit=1000"); len(denied) != 1 || denied[0].Count != 200 || denied[0].FirstTime == nil {
		t.Fatalf("session.denied rows %+v, want one with count 200 and a first time", denied)
	}
}

// TestChangesReachTheExchangeAtOnce: every change through the API
// invalidates the caches; the next exchange sees it.
func TestChangesReachTheExchangeAtOnce(t *testing.T) {
	h, cs := newCountingHarness(t, nil)
	app := h.createApp("billing", "")
	pol := h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	h.wantExchange(tok, app.AUD, 200, "")
	h.wantExchange(tok, app.AUD, 200, "")

	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":false}`}, 200, nil)
	cs.take()
	h.wantExchange(tok, app.AUD, 401, "token_disabled")
	if got := cs.take(); got["GetTokenByClientID"] != 1 {
		t.Fatalf("exchange after disable: storage calls %v, want one token read", got)
	}
	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":true}`}, 200, nil)
	h.wantExchange(tok, app.AUD, 200, "")

	var rotated apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/rotate"}, 200, &rotated)
	h.wantExchange(tok, app.AUD, 401, "invalid_secret")
	tok.ClientSecret = rotated.ClientSecret
	h.wantExchange(tok, app.AUD, 200, "")

	h.call(request{method: "PATCH", path: "/v1/apps/" + app.ID + "/policies/" + pol.ID, body: `{"decision":"deny"}`}, 200, nil)
	h.wantExchange(tok, app.AUD, 403, "denied_by_policy")
	h.call(request{method: "DELETE", path: "/v1/apps/" + app.ID + "/policies/" + pol.ID}, 204, nil)
	h.wantExchange(tok, app.AUD, 403, "no_matching_policy")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(tok.ID)}, nil)
	h.wantExchange(tok, app.AUD, 200, "")

	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + tok.ID + "?force=true"}, 204, nil)
	h.wantExchange(tok, app.AUD, 401, "unknown_client")
	h.call(request{method: "DELETE", path: "/v1/apps/" + app.ID}, 204, nil)
	if rec := h.exchange(tok, app.AUD); rec.Code != 404 {
		t.Fatalf("exchange for a deleted app: %d", rec.Code)
	}
}

// TestCacheTTLCoversOtherReplicas: a change made behind the server's back
// (another replica on the same database) is seen once the TTL has passed.
func TestCacheTTLCoversOtherReplicas(t *testing.T) {
	h, _ := newCountingHarness(t, func(c *api.Config) { c.CacheTTL = 3 * time.Second })
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	h.wantExchange(tok, app.AUD, 200, "")
	if _, err := h.store.UpdateToken(context.Background(), tok.ID, func(t domain.Token) (domain.Token, error) {
		t.Enabled = false
		return t, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.Advance(2 * time.Second)
	h.wantExchange(tok, app.AUD, 200, "") // still cached
	h.Advance(time.Second)
	h.wantExchange(tok, app.AUD, 401, "token_disabled")
}

// TestAuditBufferFullDropsAndCounts: when the database cannot keep up, the
// exchange goes on; dropped events are counted and logged once.
func TestAuditBufferFullDropsAndCounts(t *testing.T) {
	h, cs := newCountingHarness(t, func(c *api.Config) {
		c.AuditFlushInterval = time.Hour
		c.AuditBufferSize = 4
	})
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	// The database hangs: the writer takes one batch (woken at half
	// capacity) and waits; the buffer fills up behind it.
	cs.gate = make(chan struct{})
	start := time.Now()
	for i := 0; i < 20; i++ {
		h.wantExchange(tok, app.AUD, 200, "")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("exchanges took %v while the database hung", d)
	}
	dropped := metric(t, h, "svcauth_audit_events_dropped_total")
	if dropped < 20-4-4 {
		t.Fatalf("%v events dropped, want at least 12 (buffer 4, one batch of at most 4 in flight)", dropped)
	}
	if n := strings.Count(h.logs.String(), "audit buffer full"); n != 1 {
		t.Fatalf("drops logged %d times, want once", n)
	}
	close(cs.gate)
	if err := h.srv.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stored := len(h.audit("event=session.issued"))
		if float64(stored)+dropped == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stored + %v dropped, want 20", stored, dropped)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseWritesQueuedAudit: queued exchange events survive a shutdown.
func TestCloseWritesQueuedAudit(t *testing.T) {
	h, _ := newCountingHarness(t, func(c *api.Config) { c.AuditFlushInterval = time.Hour })
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	h.wantExchange(tok, app.AUD, 200, "")
	if err := h.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := h.store.ListAudit(context.Background(), storage.AuditFilter{Event: domain.EventSessionIssued})
	if err != nil || len(rows) != 1 {
		t.Fatalf("session.issued rows after Close: %d %v", len(rows), err)
	}
	stored, _ := h.store.GetToken(context.Background(), tok.ID)
	if stored.LastSeenAt == nil {
		t.Fatal("Close did not write last_seen_at")
	}
}

// TestUnknownClientIDReadOncePerTTL: a client id that has no token (a
// deleted token's client keeps trying) is read from the database once per
// cache TTL, not on every exchange, and a token imported with that id
// works at once.
func TestUnknownClientIDReadOncePerTTL(t *testing.T) {
	h, cs := newCountingHarness(t, nil)
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	ghost := apiv1.Token{Name: "ghost", ClientID: strings.Repeat("ab", 16) + ".access", ClientSecret: strings.Repeat("cd", 32)}
	h.wantExchange(h.createToken("real", ""), app.AUD, 200, "") // warms the app: not part of the count
	cs.take()
	for i := 0; i < 5; i++ {
		h.wantExchange(ghost, app.AUD, 401, domain.ReasonUnknownClient)
	}
	if got := cs.take(); got["GetTokenByClientID"] != 1 {
		t.Fatalf("5 exchanges of an unknown client id: storage calls %v, want one token read", got)
	}
	h.Advance(api.DefaultCacheTTL + time.Second)
	h.wantExchange(ghost, app.AUD, 401, domain.ReasonUnknownClient)
	if got := cs.take(); got["GetTokenByClientID"] != 1 {
		t.Fatalf("after the cache TTL: storage calls %v, want the token read again", got)
	}
	h.call(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "ghost", ClientID: ghost.ClientID, ClientSecret: ghost.ClientSecret}}, 201, nil)
	h.wantExchange(ghost, app.AUD, 200, "")
}
