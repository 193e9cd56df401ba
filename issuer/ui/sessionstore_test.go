package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage"
)

// touchCounter counts the writes of sessions' last use.
type touchCounter struct {
	storage.UISessionStorage
	touches atomic.Int64
}

func (c *touchCounter) TouchUISession(ctx context.Context, id string, at time.Time) error {
	c.touches.Add(1)
	return c.UISessionStorage.TouchUISession(ctx, id, at)
}

type testStore struct {
	*sessionStore
	now time.Time
}

func newTestStore(t *testing.T, db storage.UISessionStorage, idle time.Duration) *testStore {
	ts := &testStore{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts.sessionStore = newSessionStore(db, slog.New(slog.DiscardHandler), func() time.Time { return ts.now }, idle, 12*time.Hour, 100)
	return ts
}

func (ts *testStore) mustCreate(t *testing.T, adminKey string) string {
	t.Helper()
	v, err := ts.create(context.Background(), adminKey, "ops")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (ts *testStore) live(t *testing.T, v string) bool {
	t.Helper()
	_, ok, err := ts.get(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestLastUseWrittenAtMostOncePerMinute: page views within a minute of the
// stored last use write nothing; the first one after it writes once.
func TestLastUseWrittenAtMostOncePerMinute(t *testing.T) {
	db := testenv.SQLite(t)
	counter := &touchCounter{UISessionStorage: db}
	ts := newTestStore(t, counter, 30*time.Minute)
	v := ts.mustCreate(t, "k")
	start := ts.now
	lastUsed := func() time.Time {
		t.Helper()
		s, err := db.GetUISession(context.Background(), sessionID(v))
		if err != nil {
			t.Fatal(err)
		}
		return s.LastUsedAt
	}
	for i := 0; i < 59; i++ {
		ts.now = ts.now.Add(time.Second)
		if !ts.live(t, v) {
			t.Fatal("session lost")
		}
	}
	if n := counter.touches.Load(); n != 0 || !lastUsed().Equal(start) {
		t.Fatalf("59 views within the first minute: %d writes, last use %s; want none", n, lastUsed())
	}
	ts.now = start.Add(time.Minute)
	ts.live(t, v)
	if n := counter.touches.Load(); n != 1 || !lastUsed().Equal(ts.now) {
		t.Fatalf("the view a minute on: %d writes, last use %s; want 1 at %s", n, lastUsed(), ts.now)
	}
	for i := 0; i < 59; i++ {
		ts.now = ts.now.Add(time.Second)
		ts.live(t, v)
	}
	if n := counter.touches.Load(); n != 1 {
		t.Fatalf("%d writes in two minutes of views every second, want 1 after the first", n)
	}
}

// TestIdleExpiryErrsEarlyWithinAMinute: a use within a minute of the last
// write is not written, so the session ends up to a minute early, never
// late; and no earlier than IdleTimeout after its recorded last use.
func TestIdleExpiryErrsEarlyWithinAMinute(t *testing.T) {
	db := testenv.SQLite(t)
	ts := newTestStore(t, db, 30*time.Minute)
	start := ts.now
	early := ts.mustCreate(t, "k")
	exact := ts.mustCreate(t, "k")
	ts.now = start.Add(59 * time.Second)
	if !ts.live(t, early) {
		t.Fatal("session lost")
	}
	ts.now = start.Add(30*time.Minute - time.Nanosecond)
	if !ts.live(t, exact) {
		t.Fatal("ended before IdleTimeout after its recorded use")
	}
	ts.now = start.Add(30 * time.Minute)
	if ts.live(t, early) {
		t.Fatal("a use not written extended the session")
	}
	// The expired row is gone, not only refused.
	if _, err := db.GetUISession(context.Background(), sessionID(early)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired session row: %v, want it deleted", err)
	}
	ts.now = start.Add(30*time.Minute - time.Nanosecond).Add(30 * time.Minute)
	if ts.live(t, exact) {
		t.Fatal("outlived IdleTimeout after its last recorded use")
	}
}

// TestStoredSessionIsSealed: the row is found by the cookie's SHA-256 and
// holds neither the cookie, nor the admin key, nor the CSRF token, nor a
// slot's client secret; its values open only with the cookie, each only as
// what it was sealed as.
func TestStoredSessionIsSealed(t *testing.T) {
	ctx := context.Background()
	db := testenv.SQLite(t)
	ts := newTestStore(t, db, 30*time.Minute)
	const adminKey = "svcauth_ak_the-admin-key-under-test"
	const secret = "svcauth_cs_the-client-secret-under-test"
	v := ts.mustCreate(t, adminKey)
	s, ok, err := ts.get(ctx, v)
	if err != nil || !ok {
		t.Fatal("session", err)
	}
	if err := ts.setFlash(ctx, s, "success", "Renamed to nightly."); err != nil {
		t.Fatal(err)
	}
	slot, err := ts.putSecret(ctx, s, oneTime{TokenName: "nightly", ClientSecret: secret})
	if err != nil || slot == "" {
		t.Fatal("putSecret", err)
	}

	sum := sha256.Sum256([]byte(v))
	if s.key != hex.EncodeToString(sum[:]) {
		t.Fatalf("session id %q, want the hex SHA-256 of the cookie", s.key)
	}
	var raw [][]byte
	for _, q := range []string{
		`SELECT id, actor, sealed_admin_key, sealed_csrf, created_at, last_used_at FROM ui_sessions`,
		`SELECT session_id, slot, kind, sealed, created_at FROM ui_session_items`,
	} {
		rows, err := db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([][]byte, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			raw = append(raw, vals...)
		}
		rows.Close()
	}
	if len(raw) != 6+2*5 {
		t.Fatalf("%d stored values, want one session and two items", len(raw))
	}
	for what, needle := range map[string]string{"cookie": v, "admin key": adminKey, "CSRF token": s.CSRF, "client secret": secret, "flash": "Renamed"} {
		for _, b := range raw {
			if bytes.Contains(b, []byte(needle)) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(needle)))) {
				t.Fatalf("the database holds the %s", what)
			}
		}
	}

	row, err := db.GetUISession(ctx, s.key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newSealer(randomToken())
	if _, err := other.open(purposeAdminKey, row.SealedAdminKey); err == nil {
		t.Fatal("the admin key opened under another cookie's key")
	}
	if _, err := s.seal.open(purposeCSRF, row.SealedAdminKey); err == nil {
		t.Fatal("the sealed admin key opened as the CSRF token")
	}
	if got, err := s.seal.open(purposeAdminKey, row.SealedAdminKey); err != nil || string(got) != adminKey {
		t.Fatalf("the admin key under its own cookie: %q, %v", got, err)
	}
	// A slot's sealed value copied into another slot does not open there.
	it, err := db.TakeUISessionItem(ctx, s.key, storage.UIItemSecret, slot)
	if err != nil {
		t.Fatal(err)
	}
	moved := randomToken()[:slotLen]
	it.Slot = moved
	if err := db.PutUISessionItem(ctx, it, maxSlotsPerSession); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ts.takeSecret(ctx, s, moved); ok || err != nil {
		t.Fatalf("a sealed secret moved to another slot: shown %v, %v", ok, err)
	}
}

// TestOneSessionAtMost: with MaxSessions 1, a sign-in ends the other
// session and keeps its own, even at the same instant.
func TestOneSessionAtMost(t *testing.T) {
	ts := newTestStore(t, testenv.SQLite(t), 30*time.Minute)
	ts.maxSessions = 1
	first := ts.mustCreate(t, "k")
	second := ts.mustCreate(t, "k")
	if ts.live(t, first) || !ts.live(t, second) {
		t.Fatal("want only the newest session kept")
	}
}
