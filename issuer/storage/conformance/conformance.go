// Package conformance is the test suite every storage backend must pass.
// TestConformance (backends_test.go) runs it, as one table, against every
// backend: RunTests gets a function that returns a fresh, empty Storage for
// each test.
//
// PostgreSQL runs on the throwaway server storage/postgres/pgtest starts
// (or on $SVCAUTH_TEST_POSTGRES_DSN); without either it is skipped, unless
// $SVCAUTH_REQUIRE_POSTGRES is set (CI), which fails the run instead.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// RunTests runs every conformance test against storages made by newStorage.
func RunTests(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Storage)
	}{
		{"Ping", testPing},
		{"TokenCRUD", testTokenCRUD},
		{"DeletedClientIDIsRetired", testDeletedClientIDIsRetired},
		{"TokenRoundTripsEveryField", testTokenRoundTrip},
		{"TokenUniqueness", testTokenUniqueness},
		{"TokenUpdate", testTokenUpdate},
		{"TokenList", testTokenList},
		{"TouchTokens", testTouchTokens},
		{"AppCRUD", testAppCRUD},
		{"AppUniqueness", testAppUniqueness},
		{"PolicyCRUD", testPolicyCRUD},
		{"PolicyTokenReferences", testPolicyTokenRefs},
		{"DeleteAppDeletesPolicies", testDeleteAppCascades},
		{"AdminKeys", testAdminKeys},
		{"Audit", testAudit},
		{"AuditOrderIsByTime", testAuditOrderIsByTime},
		{"CanceledContext", testCanceledContext},
		{"AppKeys", testAppKeys},
		{"RSAAppKeys", testRSAAppKeys},
		{"SyncGeneration", testSyncGeneration},
		{"Revocations", testRevocations},
		{"SecretGraceEnds", testSecretGraceEnds},
		{"AppendAudits", testAppendAudits},
		{"SizeBytesGrowsWithAudit", testSizeBytes},
		{"UISessions", testUISessions},
		{"UISessionPrune", testUISessionPrune},
		{"UISessionItems", testUISessionItems},
		{"UISessionItemTakenOnce", testUISessionItemTakenOnce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			t.Cleanup(func() { s.Close() })
			tc.run(t, s)
		})
	}
}

// base is a fixed time with whole-nanosecond precision in UTC, so values
// round-trip exactly through any backend that keeps nanoseconds.
var base = time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ptr[T any](v T) *T { return &v }

var counter int

func newToken(name string) domain.Token {
	counter++
	return domain.Token{
		ID:                  domain.NewID(),
		Name:                name,
		ClientID:            fmt.Sprintf("%032x.access", counter),
		SecretHash:          []byte(fmt.Sprintf("hash-%d-0123456789abcdef0123456", counter)),
		ClientSecretVersion: 1,
		Duration:            domain.DefaultTokenDuration,
		ExpiresAt:           ptr(at(8760 * time.Hour)),
		Enabled:             true,
		CreatedAt:           base,
		UpdatedAt:           base,
	}
}

func newApp(name string) domain.App {
	return domain.App{
		ID:               domain.NewID(),
		Name:             name,
		Domains:          []string{name + ".example.com", "*.example.org/api"},
		AUD:              domain.NewAUD(),
		SessionDuration:  24 * time.Hour,
		KeyVersion:       1,
		SessionAlgorithm: session.HS256,
		CreatedAt:        base,
		UpdatedAt:        base,
	}
}

func newPolicy(appID string, d domain.Decision, include ...domain.Rule) domain.Policy {
	return domain.Policy{
		ID:        domain.NewID(),
		AppID:     appID,
		Name:      "policy",
		Decision:  d,
		Include:   include,
		Exclude:   []domain.Rule{},
		CreatedAt: base,
		UpdatedAt: base,
	}
}

func mustNil(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustIs(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

func mustEqual(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testTokenCRUD(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	tok := newToken("ci")
	mustNil(t, s.CreateToken(ctx, tok), "create")

	got, err := s.GetToken(ctx, tok.ID)
	mustNil(t, err, "get")
	mustEqual(t, got, tok, "get")

	got, err = s.GetTokenByClientID(ctx, tok.ClientID)
	mustNil(t, err, "get by client id")
	mustEqual(t, got, tok, "get by client id")

	_, err = s.GetToken(ctx, domain.NewID())
	mustIs(t, err, storage.ErrNotFound, "get unknown")
	_, err = s.GetTokenByClientID(ctx, "ffffffffffffffffffffffffffffffff.access")
	mustIs(t, err, storage.ErrNotFound, "get unknown client id")

	mustNil(t, s.DeleteToken(ctx, tok.ID), "delete")
	_, err = s.GetToken(ctx, tok.ID)
	mustIs(t, err, storage.ErrNotFound, "get deleted")
	_, err = s.GetTokenByClientID(ctx, tok.ClientID)
	mustIs(t, err, storage.ErrNotFound, "get deleted by client id")
	mustIs(t, s.DeleteToken(ctx, tok.ID), storage.ErrNotFound, "delete twice")
}

func testPing(t *testing.T, s storage.Storage) {
	mustNil(t, s.Ping(context.Background()), "ping")
}

// testDeletedClientIDIsRetired: once a token is deleted, no token can be
// created with its client id again, so the deleted credential can never
// authenticate again, even if someone re-imports it.
func testDeletedClientIDIsRetired(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	tok := newToken("leaked")
	mustNil(t, s.CreateToken(ctx, tok), "create")
	mustNil(t, s.DeleteToken(ctx, tok.ID), "delete")

	again := newToken("reimported")
	again.ClientID = tok.ClientID
	err := s.CreateToken(ctx, again)
	mustIs(t, err, storage.ErrClientIDRetired, "create with a deleted token's client id")
	mustIs(t, err, storage.ErrAlreadyExists, "ErrClientIDRetired is also ErrAlreadyExists")
	_, err = s.GetTokenByClientID(ctx, tok.ClientID)
	mustIs(t, err, storage.ErrNotFound, "get the retired client id")

	// Nor can an update move another token onto the retired client id.
	other := newToken("other")
	mustNil(t, s.CreateToken(ctx, other), "create other")
	_, err = s.UpdateToken(ctx, other.ID, func(old domain.Token) (domain.Token, error) {
		old.ClientID = tok.ClientID
		return old, nil
	})
	mustIs(t, err, storage.ErrClientIDRetired, "update onto a retired client id")
	got, err := s.GetToken(ctx, other.ID)
	mustNil(t, err, "get other")
	mustEqual(t, got, other, "other after the refused update")

	// The name of a deleted token is free again; only the client id is retired.
	reuse := newToken("leaked")
	mustNil(t, s.CreateToken(ctx, reuse), "create with a deleted token's name")
	// A delete that finds nothing retires nothing.
	mustIs(t, s.DeleteToken(ctx, domain.NewID()), storage.ErrNotFound, "delete unknown")
	list, err := s.ListTokens(ctx, storage.TokenFilter{})
	mustNil(t, err, "list")
	mustEqual(t, list, []domain.Token{reuse, other}, "tokens after the refused creates")
}

func testTokenRoundTrip(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	forever := newToken("forever")
	forever.Duration = domain.Forever
	forever.ExpiresAt = nil
	forever.Enabled = false

	full := newToken("full")
	full.PreviousSecretHash = []byte("previous-hash-0123456789abcdef01")
	full.PreviousSecretExpiresAt = ptr(at(time.Hour))
	full.ClientSecretVersion = 3
	full.Duration = domain.TokenDuration{D: 90 * time.Minute}
	full.ExpiresAt = ptr(at(90 * time.Minute))
	full.UpdatedAt = at(time.Second)
	full.LastSeenAt = ptr(at(2 * time.Second))

	for _, tok := range []domain.Token{forever, full} {
		mustNil(t, s.CreateToken(ctx, tok), "create "+tok.Name)
		got, err := s.GetToken(ctx, tok.ID)
		mustNil(t, err, "get "+tok.Name)
		mustEqual(t, got, tok, "round trip of "+tok.Name)
	}
}

func testTokenUniqueness(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	tok := newToken("ci")
	mustNil(t, s.CreateToken(ctx, tok), "create")

	sameName := newToken("ci")
	mustIs(t, s.CreateToken(ctx, sameName), storage.ErrAlreadyExists, "same name")
	sameClient := newToken("other")
	sameClient.ClientID = tok.ClientID
	mustIs(t, s.CreateToken(ctx, sameClient), storage.ErrAlreadyExists, "same client id")
	sameID := newToken("third")
	sameID.ID = tok.ID
	mustIs(t, s.CreateToken(ctx, sameID), storage.ErrAlreadyExists, "same id")

	list, err := s.ListTokens(ctx, storage.TokenFilter{})
	mustNil(t, err, "list")
	mustEqual(t, list, []domain.Token{tok}, "tokens after refused creates")
}

func testTokenUpdate(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	a, b := newToken("a"), newToken("b")
	mustNil(t, s.CreateToken(ctx, a), "create a")
	mustNil(t, s.CreateToken(ctx, b), "create b")

	updated, err := s.UpdateToken(ctx, a.ID, func(old domain.Token) (domain.Token, error) {
		mustEqual(t, old, a, "updater input")
		old.Name = "a2"
		old.Enabled = false
		old.ExpiresAt = nil
		old.Duration = domain.Forever
		old.UpdatedAt = at(time.Minute)
		old.ID = "ignored"
		return old, nil
	})
	mustNil(t, err, "update")
	want := a
	want.Name, want.Enabled, want.ExpiresAt, want.Duration, want.UpdatedAt = "a2", false, nil, domain.Forever, at(time.Minute)
	mustEqual(t, updated, want, "update result")
	got, err := s.GetToken(ctx, a.ID)
	mustNil(t, err, "get after update")
	mustEqual(t, got, want, "stored after update")

	_, err = s.UpdateToken(ctx, a.ID, func(old domain.Token) (domain.Token, error) {
		old.Name = "b"
		return old, nil
	})
	mustIs(t, err, storage.ErrAlreadyExists, "rename to a taken name")

	boom := errors.New("boom")
	_, err = s.UpdateToken(ctx, a.ID, func(old domain.Token) (domain.Token, error) {
		old.Name = "never"
		return old, boom
	})
	mustIs(t, err, boom, "updater error")

	got, err = s.GetToken(ctx, a.ID)
	mustNil(t, err, "get after refused updates")
	mustEqual(t, got, want, "stored after refused updates")

	_, err = s.UpdateToken(ctx, domain.NewID(), func(old domain.Token) (domain.Token, error) { return old, nil })
	mustIs(t, err, storage.ErrNotFound, "update unknown")
}

func testTokenList(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	list, err := s.ListTokens(ctx, storage.TokenFilter{})
	mustNil(t, err, "list empty")
	if list == nil || len(list) != 0 {
		t.Fatalf("empty list = %#v, want an empty non-nil slice", list)
	}
	var names []string
	for _, n := range []string{"delta", "alpha", "charlie", "bravo"} {
		mustNil(t, s.CreateToken(ctx, newToken(n)), "create "+n)
	}
	names = nil
	list, err = s.ListTokens(ctx, storage.TokenFilter{})
	mustNil(t, err, "list")
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	mustEqual(t, names, []string{"alpha", "bravo", "charlie", "delta"}, "sorted by name")

	list, err = s.ListTokens(ctx, storage.TokenFilter{Name: "charlie"})
	mustNil(t, err, "filter by name")
	if len(list) != 1 || list[0].Name != "charlie" {
		t.Fatalf("filter by name = %+v", list)
	}

	list, err = s.ListTokens(ctx, storage.TokenFilter{After: "alpha", Limit: 2})
	mustNil(t, err, "page")
	names = nil
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	mustEqual(t, names, []string{"bravo", "charlie"}, "page after alpha, limit 2")
}

func testTouchTokens(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	a, b := newToken("a"), newToken("b")
	mustNil(t, s.CreateToken(ctx, a), "create a")
	mustNil(t, s.CreateToken(ctx, b), "create b")
	mustNil(t, s.TouchTokens(ctx, map[string]time.Time{a.ID: at(time.Hour), b.ID: at(2 * time.Hour), domain.NewID(): at(time.Hour)}), "touch")
	mustNil(t, s.TouchTokens(ctx, map[string]time.Time{a.ID: at(time.Minute)}), "touch with an older time")
	mustNil(t, s.TouchTokens(ctx, nil), "touch nothing")
	for id, want := range map[string]time.Time{a.ID: at(time.Hour), b.ID: at(2 * time.Hour)} {
		got, err := s.GetToken(ctx, id)
		mustNil(t, err, "get")
		if got.LastSeenAt == nil || !got.LastSeenAt.Equal(want) {
			t.Fatalf("last_seen_at of %s = %v, want %v", got.Name, got.LastSeenAt, want)
		}
	}
}

func testAppCRUD(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create")
	got, err := s.GetApp(ctx, app.ID)
	mustNil(t, err, "get")
	mustEqual(t, got, app, "get")
	got, err = s.GetAppByAUD(ctx, app.AUD)
	mustNil(t, err, "get by aud")
	mustEqual(t, got, app, "get by aud")
	_, err = s.GetApp(ctx, domain.NewID())
	mustIs(t, err, storage.ErrNotFound, "get unknown")
	_, err = s.GetAppByAUD(ctx, domain.NewAUD())
	mustIs(t, err, storage.ErrNotFound, "get unknown aud")

	other := newApp("another")
	mustNil(t, s.CreateApp(ctx, other), "create another")
	list, err := s.ListApps(ctx)
	mustNil(t, err, "list")
	mustEqual(t, list, []domain.App{other, app}, "list sorted by name")

	updated, err := s.UpdateApp(ctx, app.ID, func(old domain.App) (domain.App, error) {
		old.KeyVersion = 2
		old.SessionsNotBefore = ptr(at(time.Hour))
		old.Domains = []string{"new.example.com"}
		old.UpdatedAt = at(time.Hour)
		return old, nil
	})
	mustNil(t, err, "update")
	got, err = s.GetApp(ctx, app.ID)
	mustNil(t, err, "get after update")
	mustEqual(t, got, updated, "stored after update")
	if got.KeyVersion != 2 || got.SessionsNotBefore == nil || got.Domains[0] != "new.example.com" {
		t.Fatalf("update not stored: %+v", got)
	}
	_, err = s.UpdateApp(ctx, app.ID, func(old domain.App) (domain.App, error) {
		old.Name = other.Name
		return old, nil
	})
	mustIs(t, err, storage.ErrAlreadyExists, "rename to a taken name")

	mustNil(t, s.DeleteApp(ctx, app.ID), "delete")
	_, err = s.GetApp(ctx, app.ID)
	mustIs(t, err, storage.ErrNotFound, "get deleted")
	mustIs(t, s.DeleteApp(ctx, app.ID), storage.ErrNotFound, "delete twice")
}

func testAppUniqueness(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create")
	mustIs(t, s.CreateApp(ctx, newApp("billing")), storage.ErrAlreadyExists, "same name")
	sameAUD := newApp("other")
	sameAUD.AUD = app.AUD
	mustIs(t, s.CreateApp(ctx, sameAUD), storage.ErrAlreadyExists, "same aud")
	list, err := s.ListApps(ctx)
	mustNil(t, err, "list")
	mustEqual(t, list, []domain.App{app}, "apps after refused creates")
}

func testPolicyCRUD(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create app")

	_, err := s.CreatePolicy(ctx, newPolicy(domain.NewID(), domain.DecisionNonIdentity, domain.RuleEveryone()))
	mustIs(t, err, storage.ErrNotFound, "policy for unknown app")

	var created []domain.Policy
	for i, d := range []domain.Decision{domain.DecisionNonIdentity, domain.DecisionDeny, domain.DecisionBypass} {
		p := newPolicy(app.ID, d, domain.RuleAnyValidServiceToken())
		p.Exclude = []domain.Rule{domain.RuleServiceToken("t-1")}
		p.Precedence = 99 // ignored: CreatePolicy appends
		got, err := s.CreatePolicy(ctx, p)
		mustNil(t, err, "create policy")
		if got.Precedence != i+1 {
			t.Fatalf("policy %d precedence = %d, want %d", i, got.Precedence, i+1)
		}
		created = append(created, got)
	}
	list, err := s.ListPolicies(ctx, app.ID)
	mustNil(t, err, "list")
	mustEqual(t, list, created, "list in precedence order")

	got, err := s.GetPolicy(ctx, app.ID, created[1].ID)
	mustNil(t, err, "get")
	mustEqual(t, got, created[1], "get")
	_, err = s.GetPolicy(ctx, domain.NewID(), created[1].ID)
	mustIs(t, err, storage.ErrNotFound, "get under another app")

	updated, err := s.UpdatePolicy(ctx, app.ID, created[1].ID, func(old domain.Policy) (domain.Policy, error) {
		old.Decision = domain.DecisionAllow
		old.Include = []domain.Rule{domain.RuleEveryone()}
		old.Precedence = 0
		old.AppID = "ignored"
		return old, nil
	})
	mustNil(t, err, "update")
	if updated.AppID != app.ID {
		t.Fatalf("update moved the policy to app %q", updated.AppID)
	}
	list, err = s.ListPolicies(ctx, app.ID)
	mustNil(t, err, "list after update")
	mustEqual(t, list[0], updated, "updated policy first by precedence")

	mustNil(t, s.DeletePolicy(ctx, app.ID, created[0].ID), "delete")
	mustIs(t, s.DeletePolicy(ctx, app.ID, created[0].ID), storage.ErrNotFound, "delete twice")
	list, err = s.ListPolicies(ctx, app.ID)
	mustNil(t, err, "list after delete")
	if len(list) != 2 {
		t.Fatalf("%d policies after delete, want 2", len(list))
	}
	empty, err := s.ListPolicies(ctx, domain.NewID())
	mustNil(t, err, "list for unknown app")
	if empty == nil || len(empty) != 0 {
		t.Fatalf("policies of an unknown app = %#v, want an empty non-nil slice", empty)
	}
}

func testPolicyTokenRefs(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app1, app2 := newApp("one"), newApp("two")
	mustNil(t, s.CreateApp(ctx, app1), "create app1")
	mustNil(t, s.CreateApp(ctx, app2), "create app2")
	p1, err := s.CreatePolicy(ctx, newPolicy(app1.ID, domain.DecisionNonIdentity, domain.RuleServiceToken("tok-a"), domain.RuleServiceToken("tok-b")))
	mustNil(t, err, "create p1")
	p2 := newPolicy(app2.ID, domain.DecisionDeny, domain.RuleEveryone())
	p2.Exclude = []domain.Rule{domain.RuleServiceToken("tok-a")}
	p2, err = s.CreatePolicy(ctx, p2)
	mustNil(t, err, "create p2")

	ids := func(tokenID string) []string {
		t.Helper()
		ps, err := s.PoliciesNamingToken(ctx, tokenID)
		mustNil(t, err, "policies naming "+tokenID)
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids("tok-a"); len(got) != 2 {
		t.Fatalf("policies naming tok-a = %v, want %s and %s", got, p1.ID, p2.ID)
	}
	mustEqual(t, ids("tok-b"), []string{p1.ID}, "policies naming tok-b")
	mustEqual(t, ids("tok-c"), []string{}, "policies naming tok-c")

	_, err = s.UpdatePolicy(ctx, app1.ID, p1.ID, func(p domain.Policy) (domain.Policy, error) {
		p.Include = []domain.Rule{domain.RuleServiceToken("tok-c")}
		return p, nil
	})
	mustNil(t, err, "update p1")
	mustEqual(t, ids("tok-b"), []string{}, "policies naming tok-b after update")
	mustEqual(t, ids("tok-c"), []string{p1.ID}, "policies naming tok-c after update")
	mustEqual(t, ids("tok-a"), []string{p2.ID}, "policies naming tok-a after update")

	mustNil(t, s.DeletePolicy(ctx, app2.ID, p2.ID), "delete p2")
	mustEqual(t, ids("tok-a"), []string{}, "policies naming tok-a after delete")
}

func testDeleteAppCascades(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create app")
	p, err := s.CreatePolicy(ctx, newPolicy(app.ID, domain.DecisionNonIdentity, domain.RuleServiceToken("tok-a")))
	mustNil(t, err, "create policy")
	mustNil(t, s.DeleteApp(ctx, app.ID), "delete app")
	_, err = s.GetPolicy(ctx, app.ID, p.ID)
	mustIs(t, err, storage.ErrNotFound, "policy of a deleted app")
	ps, err := s.PoliciesNamingToken(ctx, "tok-a")
	mustNil(t, err, "policies naming tok-a")
	if len(ps) != 0 {
		t.Fatalf("deleted app's policy still names the token: %+v", ps)
	}
}

func testAdminKeys(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	list, err := s.ListAdminKeys(ctx)
	mustNil(t, err, "list empty")
	if len(list) != 0 {
		t.Fatalf("new storage has admin keys: %+v", list)
	}
	k := domain.AdminKey{ID: domain.NewID(), Name: "initial", Hash: []byte("hash-of-initial-key-0123456789ab"), CreatedAt: base}
	mustNil(t, s.CreateAdminKey(ctx, k), "create")
	dupName := domain.AdminKey{ID: domain.NewID(), Name: "initial", Hash: []byte("another-hash"), CreatedAt: base}
	mustIs(t, s.CreateAdminKey(ctx, dupName), storage.ErrAlreadyExists, "same name")
	dupHash := domain.AdminKey{ID: domain.NewID(), Name: "ci", Hash: k.Hash, CreatedAt: base}
	mustIs(t, s.CreateAdminKey(ctx, dupHash), storage.ErrAlreadyExists, "same hash")
	second := domain.AdminKey{ID: domain.NewID(), Name: "automation", Hash: []byte("hash-two"), CreatedAt: at(time.Hour)}
	mustNil(t, s.CreateAdminKey(ctx, second), "create second")

	list, err = s.ListAdminKeys(ctx)
	mustNil(t, err, "list")
	mustEqual(t, list, []domain.AdminKey{second, k}, "list sorted by name")

	revoked, err := s.UpdateAdminKey(ctx, k.ID, func(old domain.AdminKey) (domain.AdminKey, error) {
		old.RevokedAt = ptr(at(2 * time.Hour))
		return old, nil
	})
	mustNil(t, err, "revoke")
	list, err = s.ListAdminKeys(ctx)
	mustNil(t, err, "list after revoke")
	mustEqual(t, list[1], revoked, "revoked key")
	_, err = s.UpdateAdminKey(ctx, domain.NewID(), func(old domain.AdminKey) (domain.AdminKey, error) { return old, nil })
	mustIs(t, err, storage.ErrNotFound, "update unknown")
}

func testAudit(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	if _, err := s.AppendAudit(ctx, domain.AuditEvent{Event: domain.EventTokenCreated}); err == nil {
		t.Fatal("event without a time accepted")
	}
	events := []domain.AuditEvent{
		{Time: at(0), Event: domain.EventTokenCreated, Actor: "initial", TokenID: "t1", TokenName: "ci", ClientID: "c1"},
		{Time: at(time.Minute), Event: domain.EventSessionIssued, Actor: domain.ActorExchange, TokenID: "t1", TokenName: "ci",
			ClientID: "c1", AppID: "a1", AppName: "billing", PolicyID: "p1", SourceIP: "192.0.2.1", RequestID: "r1"},
		{Time: at(2 * time.Minute), Event: domain.EventSessionDenied, Actor: domain.ActorExchange, TokenID: "t2", TokenName: "cron",
			ClientID: "c2", AppID: "a1", AppName: "billing", Reason: "no_matching_policy", Detail: "note"},
		{Time: at(3 * time.Minute), Event: domain.EventAppCreated, Actor: "initial", AppID: "a2", AppName: "other"},
	}
	for i := range events {
		got, err := s.AppendAudit(ctx, events[i])
		mustNil(t, err, "append")
		if got.ID == 0 {
			t.Fatal("append returned no id")
		}
		if i > 0 && got.ID <= events[i-1].ID {
			t.Fatalf("ids not increasing: %d after %d", got.ID, events[i-1].ID)
		}
		events[i] = got
	}
	list := func(f storage.AuditFilter) []domain.AuditEvent {
		t.Helper()
		out, err := s.ListAudit(ctx, f)
		mustNil(t, err, "list")
		return out
	}
	e := events
	mustEqual(t, list(storage.AuditFilter{}), []domain.AuditEvent{e[3], e[2], e[1], e[0]}, "all, newest first")
	mustEqual(t, list(storage.AuditFilter{TokenID: "t1"}), []domain.AuditEvent{e[1], e[0]}, "by token")
	mustEqual(t, list(storage.AuditFilter{AppID: "a1"}), []domain.AuditEvent{e[2], e[1]}, "by app")
	mustEqual(t, list(storage.AuditFilter{Event: domain.EventSessionDenied}), []domain.AuditEvent{e[2]}, "by event")
	mustEqual(t, list(storage.AuditFilter{Since: at(time.Minute), Until: at(3 * time.Minute)}), []domain.AuditEvent{e[2], e[1]}, "time range")
	mustEqual(t, list(storage.AuditFilter{Limit: 2}), []domain.AuditEvent{e[3], e[2]}, "first page")
	mustEqual(t, list(storage.AuditFilter{Limit: 2, BeforeID: e[2].ID}), []domain.AuditEvent{e[1], e[0]}, "second page")

	n, err := s.DeleteAuditBefore(ctx, at(2*time.Minute))
	mustNil(t, err, "delete before")
	if n != 2 {
		t.Fatalf("deleted %d events, want 2", n)
	}
	mustEqual(t, list(storage.AuditFilter{}), []domain.AuditEvent{e[3], e[2]}, "after retention")
}

// testAuditOrderIsByTime: events written late (batched exchange rows) still
// list by their time, newest first, and paging follows that order.
func testAuditOrderIsByTime(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	var stored []domain.AuditEvent
	// Appended in this order; times 3, 1, 4, 1, 0 minutes.
	for i, m := range []time.Duration{3, 1, 4, 1, 0} {
		e, err := s.AppendAudit(ctx, domain.AuditEvent{Time: at(m * time.Minute), Event: "e", Detail: fmt.Sprint(i)})
		mustNil(t, err, "append")
		stored = append(stored, e)
	}
	// Newest first; equal times by id, the later-written first.
	want := []domain.AuditEvent{stored[2], stored[0], stored[3], stored[1], stored[4]}
	all, err := s.ListAudit(ctx, storage.AuditFilter{})
	mustNil(t, err, "list")
	mustEqual(t, all, want, "listing order")
	var paged []domain.AuditEvent
	var before int64
	for len(paged) < len(want)+1 {
		page, err := s.ListAudit(ctx, storage.AuditFilter{Limit: 2, BeforeID: before})
		mustNil(t, err, "page")
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	mustEqual(t, paged, want, "paged listing")
	since, err := s.ListAudit(ctx, storage.AuditFilter{Since: at(time.Minute), Until: at(4 * time.Minute), Limit: 2, BeforeID: stored[0].ID})
	mustNil(t, err, "page with a time range")
	mustEqual(t, since, []domain.AuditEvent{stored[3], stored[1]}, "page with a time range")
}

func testCanceledContext(t *testing.T, s storage.Storage) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CreateToken(ctx, newToken("never")); err == nil {
		t.Fatal("create with a canceled context succeeded")
	}
	if _, err := s.ListTokens(context.Background(), storage.TokenFilter{Name: "never"}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListTokens(context.Background(), storage.TokenFilter{Name: "never"})
	if len(list) != 0 {
		t.Fatal("create with a canceled context stored the token")
	}
}
