package conformance

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Conformance tests of the key ring, revocations, the sync generation and
// batched audit writes (storage.SyncStorage, AppendAudits).

func testAppKeys(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create app")
	first := domain.AppKey{AppID: app.ID, Version: 1, CreatedAt: base, ActivatesAt: base, Algorithm: session.HS256}
	keys, err := s.ListAppKeys(ctx, app.ID)
	mustNil(t, err, "list keys of a new app")
	mustEqual(t, keys, []domain.AppKey{first}, "a new app's first key")

	_, err = s.ListAppKeys(ctx, domain.NewID())
	mustIs(t, err, storage.ErrNotFound, "keys of an unknown app")
	_, err = s.UpdateAppKeys(ctx, domain.NewID(), func(domain.App, []domain.AppKey) ([]domain.AppKey, error) { return nil, nil })
	mustIs(t, err, storage.ErrNotFound, "update keys of an unknown app")

	retires := at(25 * time.Hour)
	second := domain.AppKey{AppID: app.ID, Version: 2, CreatedAt: at(time.Hour), ActivatesAt: at(time.Hour + 30*time.Second), Algorithm: session.HS256}
	got, err := s.UpdateAppKeys(ctx, app.ID, func(a domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
		mustEqual(t, a, app, "updater's app")
		mustEqual(t, old, []domain.AppKey{first}, "updater's keys")
		old[0].RetiresAt = &retires
		return append(old, second), nil
	})
	mustNil(t, err, "rotate")
	firstRetiring := first
	firstRetiring.RetiresAt = &retires
	want := []domain.AppKey{firstRetiring, second}
	mustEqual(t, got, want, "keys returned by the update")
	keys, err = s.ListAppKeys(ctx, app.ID)
	mustNil(t, err, "list after rotate")
	mustEqual(t, keys, want, "stored keys after rotate")
	a, err := s.GetApp(ctx, app.ID)
	mustNil(t, err, "get app")
	if a.KeyVersion != 2 {
		t.Fatalf("app key_version %d after adding version 2", a.KeyVersion)
	}

	boom := errors.New("boom")
	for name, updater := range map[string]func(domain.App, []domain.AppKey) ([]domain.AppKey, error){
		"updater error": func(_ domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
			return append(old, domain.AppKey{AppID: app.ID, Version: 3, CreatedAt: base, ActivatesAt: base}), boom
		},
		"no keys":            func(domain.App, []domain.AppKey) ([]domain.AppKey, error) { return nil, nil },
		"duplicate versions": func(_ domain.App, old []domain.AppKey) ([]domain.AppKey, error) { return append(old, old[1]), nil },
		"version 0": func(_ domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
			return append(old, domain.AppKey{AppID: app.ID, Version: 0, CreatedAt: base, ActivatesAt: base}), nil
		},
	} {
		if _, err := s.UpdateAppKeys(ctx, app.ID, updater); err == nil {
			t.Fatalf("%s: update accepted", name)
		}
		keys, err = s.ListAppKeys(ctx, app.ID)
		mustNil(t, err, "list after "+name)
		mustEqual(t, keys, want, "keys after "+name)
	}

	// Dropping a version deletes it.
	got, err = s.UpdateAppKeys(ctx, app.ID, func(_ domain.App, old []domain.AppKey) ([]domain.AppKey, error) { return old[1:], nil })
	mustNil(t, err, "drop version 1")
	mustEqual(t, got, []domain.AppKey{second}, "keys after dropping version 1")

	other := newApp("other")
	mustNil(t, s.CreateApp(ctx, other), "create other app")
	keys, err = s.ListAppKeys(ctx, other.ID)
	mustNil(t, err, "list other app's keys")
	mustEqual(t, keys, []domain.AppKey{{AppID: other.ID, Version: 1, CreatedAt: base, ActivatesAt: base, Algorithm: session.HS256}}, "other app's keys")

	mustNil(t, s.DeleteApp(ctx, app.ID), "delete app")
	_, err = s.ListAppKeys(ctx, app.ID)
	mustIs(t, err, storage.ErrNotFound, "keys of a deleted app")
}

func testSyncGeneration(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	last, err := s.SyncGeneration(ctx)
	mustNil(t, err, "generation")
	grows := func(what string, change func() error) {
		t.Helper()
		mustNil(t, change(), what)
		g, err := s.SyncGeneration(ctx)
		mustNil(t, err, "generation after "+what)
		if g <= last {
			t.Fatalf("sync generation %d after %s, was %d: want it to grow", g, what, last)
		}
		last = g
	}
	tok := newToken("ci")
	mustNil(t, s.CreateToken(ctx, tok), "create token")
	app := newApp("billing")
	mustNil(t, s.CreateApp(ctx, app), "create app")
	updateToken := func(f func(*domain.Token)) func() error {
		return func() error {
			_, err := s.UpdateToken(ctx, tok.ID, func(t domain.Token) (domain.Token, error) { f(&t); return t, nil })
			return err
		}
	}
	updateApp := func(f func(*domain.App)) func() error {
		return func() error {
			_, err := s.UpdateApp(ctx, app.ID, func(a domain.App) (domain.App, error) { f(&a); return a, nil })
			return err
		}
	}
	grows("disable token", updateToken(func(t *domain.Token) { t.Enabled = false }))
	grows("enable token", updateToken(func(t *domain.Token) { t.Enabled = true }))
	grows("revoke token sessions", updateToken(func(t *domain.Token) { t.SessionsRevokedAt = ptr(at(time.Minute)) }))
	grows("revoke token sessions again", updateToken(func(t *domain.Token) { t.SessionsRevokedAt = ptr(at(time.Hour)) }))
	grows("rotate with grace", updateToken(func(t *domain.Token) {
		t.PreviousSecretHash, t.PreviousSecretExpiresAt = t.SecretHash, ptr(at(time.Hour))
	}))
	grows("end grace", updateToken(func(t *domain.Token) { t.PreviousSecretHash, t.PreviousSecretExpiresAt = nil, nil }))
	grows("delete token", func() error { return s.DeleteToken(ctx, tok.ID) })
	grows("revoke app sessions", updateApp(func(a *domain.App) { a.SessionsNotBefore = ptr(at(time.Minute)) }))
	grows("change session duration", updateApp(func(a *domain.App) { a.SessionDuration = time.Hour }))
	grows("rotate key", func() error {
		_, err := s.UpdateAppKeys(ctx, app.ID, func(a domain.App, keys []domain.AppKey) ([]domain.AppKey, error) {
			keys, _ = domain.RotateAppKeys(a, keys, at(time.Hour), 30*time.Second, domain.AppKey{})
			return keys, nil
		})
		return err
	})
	grows("delete app", func() error { return s.DeleteApp(ctx, app.ID) })

	// Exchange bookkeeping is not a sync change.
	other := newToken("other")
	mustNil(t, s.CreateToken(ctx, other), "create other")
	g0, _ := s.SyncGeneration(ctx)
	mustNil(t, s.TouchTokens(ctx, map[string]time.Time{other.ID: at(time.Hour)}), "touch")
	if g, _ := s.SyncGeneration(ctx); g != g0 {
		t.Fatalf("TouchTokens moved the sync generation %d → %d", g0, g)
	}
}

func testRevocations(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	epoch := time.Unix(0, 0)
	list, err := s.ListRevokedTokens(ctx, epoch)
	mustNil(t, err, "list none")
	if list == nil || len(list) != 0 {
		t.Fatalf("revocations of an empty store %#v, want an empty non-nil slice", list)
	}
	disabledIDs, err := s.ListDisabledTokenIDs(ctx)
	mustNil(t, err, "disabled none")
	if disabledIDs == nil || len(disabledIDs) != 0 {
		t.Fatalf("disabled tokens of an empty store %#v, want an empty non-nil slice", disabledIDs)
	}

	rotated, deleted, plainDeleted, disabled, live := newToken("rotated"), newToken("deleted"), newToken("plain"), newToken("disabled"), newToken("live")
	rotated.SessionsRevokedAt = ptr(at(time.Hour))
	disabled.Enabled = false
	for _, tok := range []domain.Token{rotated, deleted, plainDeleted, disabled, live} {
		mustNil(t, s.CreateToken(ctx, tok), "create "+tok.Name)
	}
	got, err := s.GetToken(ctx, rotated.ID)
	mustNil(t, err, "get rotated")
	mustEqual(t, got, rotated, "SessionsRevokedAt round trip")

	// The issuer stamps a token before deleting it; a delete without a
	// stamp revokes at the backend's own time.
	_, err = s.UpdateToken(ctx, deleted.ID, func(t domain.Token) (domain.Token, error) {
		t.SessionsRevokedAt = ptr(at(2 * time.Hour))
		return t, nil
	})
	mustNil(t, err, "stamp deleted")
	mustNil(t, s.DeleteToken(ctx, deleted.ID), "delete stamped")
	before := time.Now().Add(-time.Minute)
	mustNil(t, s.DeleteToken(ctx, plainDeleted.ID), "delete unstamped")
	after := time.Now().Add(time.Minute)

	list, err = s.ListRevokedTokens(ctx, epoch)
	mustNil(t, err, "list all")
	want := []domain.TokenRevocation{
		{TokenID: rotated.ID, RevokedAt: at(time.Hour)},
		{TokenID: deleted.ID, RevokedAt: at(2 * time.Hour)},
		{TokenID: plainDeleted.ID},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].TokenID < want[j].TokenID })
	if len(list) != len(want) {
		t.Fatalf("revocations %+v, want %d", list, len(want))
	}
	for i := range want {
		if want[i].TokenID == plainDeleted.ID {
			if list[i].TokenID != plainDeleted.ID || list[i].RevokedAt.Before(before) || list[i].RevokedAt.After(after) {
				t.Fatalf("unstamped delete revoked %+v, want about now (%v)", list[i], time.Now())
			}
			want[i] = list[i]
		}
	}
	mustEqual(t, list, want, "revocations")

	list, err = s.ListRevokedTokens(ctx, at(90*time.Minute))
	mustNil(t, err, "list recent")
	mustEqual(t, list, []domain.TokenRevocation{{TokenID: deleted.ID, RevokedAt: at(2 * time.Hour)}}, "revocations since 90m")

	disabledIDs, err = s.ListDisabledTokenIDs(ctx)
	mustNil(t, err, "disabled")
	mustEqual(t, disabledIDs, []string{disabled.ID}, "disabled tokens")

	// Pruning forgets deleted tokens' old revocations only.
	n, err := s.DeleteTokenRevocationsBefore(ctx, at(3*time.Hour))
	mustNil(t, err, "prune")
	if n != 2 {
		t.Fatalf("pruned %d revocations, want 2 (both deleted tokens)", n)
	}
	list, err = s.ListRevokedTokens(ctx, epoch)
	mustNil(t, err, "list after prune")
	mustEqual(t, list, []domain.TokenRevocation{{TokenID: rotated.ID, RevokedAt: at(time.Hour)}}, "revocations after prune")
}

func testSecretGraceEnds(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	list, err := s.ListSecretGraceEnds(ctx, time.Unix(0, 0))
	mustNil(t, err, "list none")
	if list == nil || len(list) != 0 {
		t.Fatalf("grace ends of an empty store %#v, want an empty non-nil slice", list)
	}
	early, late, plain := newToken("early"), newToken("late"), newToken("plain")
	early.PreviousSecretHash, early.PreviousSecretExpiresAt = []byte("previous-early"), ptr(at(time.Hour))
	late.PreviousSecretHash, late.PreviousSecretExpiresAt = []byte("previous-late"), ptr(at(3*time.Hour))
	for _, tok := range []domain.Token{early, late, plain} {
		mustNil(t, s.CreateToken(ctx, tok), "create "+tok.Name)
	}
	want := []domain.SecretGraceEnd{{TokenID: early.ID, EndsAt: at(time.Hour)}, {TokenID: late.ID, EndsAt: at(3 * time.Hour)}}
	sort.Slice(want, func(i, j int) bool { return want[i].TokenID < want[j].TokenID })
	list, err = s.ListSecretGraceEnds(ctx, time.Unix(0, 0))
	mustNil(t, err, "list all")
	mustEqual(t, list, want, "grace ends")

	list, err = s.ListSecretGraceEnds(ctx, at(2*time.Hour))
	mustNil(t, err, "list recent")
	mustEqual(t, list, []domain.SecretGraceEnd{{TokenID: late.ID, EndsAt: at(3 * time.Hour)}}, "grace ends since 2h")

	mustNil(t, s.DeleteToken(ctx, late.ID), "delete late")
	list, err = s.ListSecretGraceEnds(ctx, at(2*time.Hour))
	mustNil(t, err, "list after delete")
	mustEqual(t, list, []domain.SecretGraceEnd{}, "grace ends after the token is deleted")
}

func testAppendAudits(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	mustNil(t, s.AppendAudits(ctx, nil), "empty batch")
	batch := []domain.AuditEvent{
		{Time: at(0), Event: domain.EventSessionIssued, Actor: domain.ActorExchange, TokenID: "t1", TokenName: "ci", AppID: "a1", RequestID: "r1"},
		{Time: at(0), Event: domain.EventSessionDenied, Actor: domain.ActorExchange, ClientID: "c2", AppID: "a1", Reason: "unknown_client"},
		{Time: at(time.Second), Event: domain.EventSessionIssued, Actor: domain.ActorExchange, TokenID: "t1", TokenName: "ci", AppID: "a1", Detail: "jti x"},
		// An aggregated denial: 40 of them from a minute before to now.
		{Time: at(2 * time.Second), Event: domain.EventSessionDenied, Actor: domain.ActorExchange, ClientID: "c3", AppID: "a1", Reason: "invalid_secret",
			SourceIP: "192.0.2.1", Count: 40, FirstTime: at(-time.Minute)},
	}
	mustNil(t, s.AppendAudits(ctx, batch), "append batch")
	bad := []domain.AuditEvent{batch[0], {Event: domain.EventSessionIssued}}
	if err := s.AppendAudits(ctx, bad); err == nil {
		t.Fatal("batch with an event without a time accepted")
	}
	if err := s.AppendAudits(ctx, []domain.AuditEvent{{Time: at(0)}}); err == nil {
		t.Fatal("batch with an event without a name accepted")
	}
	got, err := s.ListAudit(ctx, storage.AuditFilter{})
	mustNil(t, err, "list")
	if len(got) != len(batch) {
		t.Fatalf("%d events stored, want %d (a refused batch stores nothing)", len(got), len(batch))
	}
	for i := range got {
		e := batch[len(batch)-1-i].Normalized() // count 1 and first time = time for single events
		e.ID = got[i].ID
		mustEqual(t, got[i], e, "event (newest first)")
		if i > 0 && got[i].ID >= got[i-1].ID {
			t.Fatalf("ids not in append order: %d then %d", got[i-1].ID, got[i].ID)
		}
	}
}

func testSizeBytes(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	before, err := s.SizeBytes(ctx)
	mustNil(t, err, "size")
	if before <= 0 {
		t.Fatalf("size of a migrated database %d, want > 0", before)
	}
	batch := make([]domain.AuditEvent, 5000)
	for i := range batch {
		batch[i] = domain.AuditEvent{Time: at(time.Duration(i)), Event: domain.EventSessionIssued, Actor: domain.ActorExchange,
			TokenID: "t1", TokenName: "ci", AppID: "a1", Detail: strings.Repeat("x", 100)}
	}
	mustNil(t, s.AppendAudits(ctx, batch), "append")
	after, err := s.SizeBytes(ctx)
	mustNil(t, err, "size after")
	if after < before+5000*100 {
		t.Fatalf("size %d after 5000 rows of 100+ bytes, was %d: want it to grow by at least 500 kB", after, before)
	}
}
