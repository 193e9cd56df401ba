package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage"
)

// flakySessions is a session store whose database can go away.
type flakySessions struct {
	storage.UISessionStorage
	down      atomic.Bool // every method used on a page fails
	itemsDown atomic.Bool // only the one-time items' fail
}

var errDown = errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")

func (f *flakySessions) err() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *flakySessions) CreateUISession(ctx context.Context, s storage.UISession) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.UISessionStorage.CreateUISession(ctx, s)
}

func (f *flakySessions) GetUISession(ctx context.Context, id string) (storage.UISession, error) {
	if err := f.err(); err != nil {
		return storage.UISession{}, err
	}
	return f.UISessionStorage.GetUISession(ctx, id)
}

func (f *flakySessions) DeleteUISession(ctx context.Context, id string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.UISessionStorage.DeleteUISession(ctx, id)
}

func (f *flakySessions) PruneUISessions(ctx context.Context, usedBy, createdBy time.Time, keep int) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.UISessionStorage.PruneUISessions(ctx, usedBy, createdBy, keep)
}

func (f *flakySessions) PutUISessionItem(ctx context.Context, it storage.UISessionItem, keep int) error {
	if f.itemsDown.Load() {
		return errDown
	}
	return f.UISessionStorage.PutUISessionItem(ctx, it, keep)
}

func (f *flakySessions) TakeUISessionItem(ctx context.Context, sessionID, kind, slot string) (storage.UISessionItem, error) {
	if f.itemsDown.Load() {
		return storage.UISessionItem{}, errDown
	}
	return f.UISessionStorage.TakeUISessionItem(ctx, sessionID, kind, slot)
}

// TestSessionStoreUnavailable: when the session store fails, pages say so
// with a 503, change nothing and keep the cookie: the browser is signed in
// again as soon as the store is back.
func TestSessionStoreUnavailable(t *testing.T) {
	store := testenv.SQLite(t)
	sessions := &flakySessions{UISessionStorage: store}
	h := newHarnessOn(t, store, testenv.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)), sessions)
	b := h.browser()
	b.login(h.adminKey)
	expect(t, b.post("/ui/tokens", url.Values{"name": {"nightly"}, "duration": {"24h"}}), http.StatusSeeOther)
	id := h.tokenNamed("nightly").ID
	cookie := b.cookies["svcauth_ui"].Value

	sessions.down.Store(true)
	unavailable := func(p page, what string) {
		t.Helper()
		if p.Code != http.StatusServiceUnavailable || !strings.Contains(p.Body, "The dashboard&#39;s session store is unavailable") {
			t.Fatalf("%s: status %d, want 503 saying the session store is unavailable:\n%s", what, p.Code, p.Body)
		}
		if strings.Contains(p.Body, "Signed in as") {
			t.Fatalf("%s: the page claims a session it could not read", what)
		}
		if c := b.cookies["svcauth_ui"]; c == nil || c.Value != cookie {
			t.Fatalf("%s: the session cookie was dropped", what)
		}
	}
	unavailable(b.get("/ui/tokens"), "GET")
	unavailable(b.post("/ui/tokens/"+id+"/disable", nil), "POST")
	if !h.tokenNamed("nightly").Enabled {
		t.Fatal("a POST went through without its session")
	}
	unavailable(b.post("/ui/logout", nil), "sign-out")
	unavailable(b.get("/ui/login"), "sign-in page")

	// A new sign-in fails and says why, on the form (its page needs no
	// session).
	other := h.browser()
	expect(t, other.get("/ui/login"), http.StatusOK)
	p := other.post("/ui/login", url.Values{"admin_key": {h.adminKey}})
	if p.Code != http.StatusServiceUnavailable || !strings.Contains(p.Body, "session store is unavailable, so you could not be signed in") {
		t.Fatalf("sign-in with the store down: %d\n%s", p.Code, p.Body)
	}
	if other.cookies["svcauth_ui"] != nil {
		t.Fatal("a session cookie without a session")
	}

	logs := h.logs.String()
	if !strings.Contains(logs, "connection refused") {
		t.Fatal("the store's error is not in the log")
	}
	if strings.Contains(logs, cookie) || strings.Contains(logs, h.adminKey) {
		t.Fatal("the log holds the cookie or the admin key")
	}

	sessions.down.Store(false)
	p = b.get("/ui/tokens")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "Signed in as") {
		t.Fatal("the session did not come back with the store")
	}
}

// TestSecretSlotUnavailable: a secret that cannot be parked for its page
// is reported as such (the token exists, rotate it), and one that cannot be
// fetched stays for a reload.
func TestSecretSlotUnavailable(t *testing.T) {
	store := testenv.SQLite(t)
	sessions := &flakySessions{UISessionStorage: store}
	h := newHarnessOn(t, store, testenv.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)), sessions)
	b := h.browser()
	b.login(h.adminKey)

	sessions.itemsDown.Store(true)
	p := b.post("/ui/tokens", url.Values{"name": {"nightly"}, "duration": {"24h"}})
	if p.Code != http.StatusServiceUnavailable || !strings.Contains(p.Body, "The token nightly was created, but its new secret could not be kept for showing") ||
		!strings.Contains(p.Body, "Signed in as") {
		t.Fatalf("create with the slots down: %d\n%s", p.Code, p.Body)
	}
	h.tokenNamed("nightly")

	sessions.itemsDown.Store(false)
	p = b.post("/ui/tokens", url.Values{"name": {"weekly"}, "duration": {"24h"}})
	expect(t, p, http.StatusSeeOther)
	secretPage := p.location()
	sessions.itemsDown.Store(true)
	if p := b.get(secretPage); p.Code != http.StatusServiceUnavailable || !strings.Contains(p.Body, "reload this page in a moment") {
		t.Fatalf("secret page with the slots down: %d\n%s", p.Code, p.Body)
	}
	sessions.itemsDown.Store(false)
	p = b.get(secretPage)
	expect(t, p, http.StatusOK)
	field(t, clientSecretRE, p.Body)
}
