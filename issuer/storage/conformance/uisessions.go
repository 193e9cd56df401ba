package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/storage"
)

// Conformance tests of the dashboard's sign-in sessions
// (storage.UISessionStorage). The values are opaque bytes here: sealing
// is the dashboard's.

func newUISession(n int) storage.UISession {
	return storage.UISession{
		ID:             fmt.Sprintf("%064x", n),
		Actor:          fmt.Sprintf("admin-%d", n),
		SealedAdminKey: []byte(fmt.Sprintf("sealed-admin-key-%d\x00\xff", n)),
		SealedCSRF:     []byte(fmt.Sprintf("sealed-csrf-%d", n)),
		CreatedAt:      base,
		LastUsedAt:     base,
	}
}

func newUIItem(sessionID, kind, slot string, d time.Duration) storage.UISessionItem {
	return storage.UISessionItem{SessionID: sessionID, Kind: kind, Slot: slot, Sealed: []byte("sealed " + slot + "\x00\x01"), CreatedAt: at(d)}
}

func testUISessions(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	a := newUISession(1)
	mustNil(t, s.CreateUISession(ctx, a), "create")
	got, err := s.GetUISession(ctx, a.ID)
	mustNil(t, err, "get")
	mustEqual(t, got, a, "stored session")
	dup := newUISession(2)
	dup.ID = a.ID
	mustIs(t, s.CreateUISession(ctx, dup), storage.ErrAlreadyExists, "create with a taken id")
	_, err = s.GetUISession(ctx, newUISession(3).ID)
	mustIs(t, err, storage.ErrNotFound, "get of a wrong id")

	mustNil(t, s.TouchUISession(ctx, a.ID, at(time.Minute)), "touch")
	mustNil(t, s.TouchUISession(ctx, a.ID, at(time.Second)), "touch with an older time")
	got, err = s.GetUISession(ctx, a.ID)
	mustNil(t, err, "get after touch")
	want := a
	want.LastUsedAt = at(time.Minute)
	mustEqual(t, got, want, "touched session (last_used_at only moves forward)")
	mustNil(t, s.TouchUISession(ctx, newUISession(3).ID, at(time.Hour)), "touch of an unknown id")
	_, err = s.GetUISession(ctx, newUISession(3).ID)
	mustIs(t, err, storage.ErrNotFound, "a touch creates no session")

	b := newUISession(2)
	mustNil(t, s.CreateUISession(ctx, b), "create another")
	mustNil(t, s.DeleteUISession(ctx, a.ID), "delete")
	_, err = s.GetUISession(ctx, a.ID)
	mustIs(t, err, storage.ErrNotFound, "get after delete")
	mustIs(t, s.DeleteUISession(ctx, a.ID), storage.ErrNotFound, "delete again")
	got, err = s.GetUISession(ctx, b.ID)
	mustNil(t, err, "the other session")
	mustEqual(t, got, b, "the other session after a delete")
}

func testUISessionPrune(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	idle := newUISession(1) // last used at base
	old := newUISession(2)  // created at base, used recently
	old.LastUsedAt = at(time.Hour)
	live := []storage.UISession{newUISession(3), newUISession(4), newUISession(5)}
	for i := range live {
		live[i].CreatedAt = at(time.Minute)
		live[i].LastUsedAt = at(time.Duration(i+2) * time.Hour)
	}
	for _, u := range append([]storage.UISession{idle, old}, live...) {
		mustNil(t, s.CreateUISession(ctx, u), "create")
	}
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(idle.ID, storage.UIItemSecret, "slot-of-idle", 0), 8), "item of the idle session")

	n, err := s.PruneUISessions(ctx, at(0), at(0), 100)
	mustNil(t, err, "prune expired")
	if n != 2 {
		t.Fatalf("pruned %d sessions, want 2 (used at or before, created at or before)", n)
	}
	for _, gone := range []storage.UISession{idle, old} {
		_, err := s.GetUISession(ctx, gone.ID)
		mustIs(t, err, storage.ErrNotFound, "expired session "+gone.Actor)
	}
	_, err = s.TakeUISessionItem(ctx, idle.ID, storage.UIItemSecret, "slot-of-idle")
	mustIs(t, err, storage.ErrNotFound, "item of a pruned session")

	n, err = s.PruneUISessions(ctx, at(0), at(0), 2)
	mustNil(t, err, "prune beyond 2")
	if n != 1 {
		t.Fatalf("pruned %d sessions to keep 2 of 3, want 1", n)
	}
	_, err = s.GetUISession(ctx, live[0].ID)
	mustIs(t, err, storage.ErrNotFound, "the least recently used session")
	for _, kept := range live[1:] {
		_, err := s.GetUISession(ctx, kept.ID)
		mustNil(t, err, "a recently used session")
	}
	n, err = s.PruneUISessions(ctx, at(0), at(0), 2)
	mustNil(t, err, "prune again")
	if n != 0 {
		t.Fatalf("pruned %d sessions with nothing to prune", n)
	}

	// Of equally recent sessions, the oldest go; keep 0 keeps none.
	tied := newUISession(6)
	tied.CreatedAt, tied.LastUsedAt = at(2*time.Minute), live[2].LastUsedAt
	mustNil(t, s.CreateUISession(ctx, tied), "create one as recent as another")
	n, err = s.PruneUISessions(ctx, at(0), at(0), 1)
	mustNil(t, err, "prune a tie")
	if n != 2 {
		t.Fatalf("pruned %d sessions to keep 1 of 3, want 2", n)
	}
	_, err = s.GetUISession(ctx, live[1].ID)
	mustIs(t, err, storage.ErrNotFound, "the least recently used session")
	_, err = s.GetUISession(ctx, live[2].ID)
	mustIs(t, err, storage.ErrNotFound, "the older of two equally recent sessions")
	_, err = s.GetUISession(ctx, tied.ID)
	mustNil(t, err, "the newer of two equally recent sessions")
	n, err = s.PruneUISessions(ctx, at(0), at(0), 0)
	mustNil(t, err, "prune to none")
	if n != 1 {
		t.Fatalf("pruned %d sessions to keep none of 1", n)
	}
}

func testUISessionItems(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	a, b := newUISession(1), newUISession(2)
	mustNil(t, s.CreateUISession(ctx, a), "create a")
	mustNil(t, s.CreateUISession(ctx, b), "create b")

	secret := newUIItem(a.ID, storage.UIItemSecret, "s1", time.Second)
	mustNil(t, s.PutUISessionItem(ctx, secret, 8), "put secret")
	_, err := s.TakeUISessionItem(ctx, b.ID, storage.UIItemSecret, "s1")
	mustIs(t, err, storage.ErrNotFound, "take from another session")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemFlash, "s1")
	mustIs(t, err, storage.ErrNotFound, "take as another kind")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, "s2")
	mustIs(t, err, storage.ErrNotFound, "take of a wrong slot")
	got, err := s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, "s1")
	mustNil(t, err, "take")
	mustEqual(t, got, secret, "taken item")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, "s1")
	mustIs(t, err, storage.ErrNotFound, "take again")

	mustIs(t, s.PutUISessionItem(ctx, newUIItem(newUISession(3).ID, storage.UIItemSecret, "s1", 0), 8), storage.ErrNotFound,
		"put into an unknown session")

	// The flash: one slot, replaced by the next message; the session's
	// lookup says whether one waits.
	hasFlash := func(want bool, what string) {
		t.Helper()
		got, err := s.GetUISession(ctx, a.ID)
		mustNil(t, err, what)
		if got.HasFlash != want {
			t.Fatalf("%s: HasFlash %v, want %v", what, got.HasFlash, want)
		}
	}
	hasFlash(false, "no flash yet")
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemFlash, "flash", 0), 1), "put flash")
	hasFlash(true, "a flash waits")
	second := newUIItem(a.ID, storage.UIItemFlash, "flash", time.Minute)
	second.Sealed = []byte("the second message")
	mustNil(t, s.PutUISessionItem(ctx, second, 1), "replace flash")
	got, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemFlash, "flash")
	mustNil(t, err, "take flash")
	mustEqual(t, got, second, "the flash is the last one put")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemFlash, "flash")
	mustIs(t, err, storage.ErrNotFound, "take flash again")
	hasFlash(false, "the flash was taken")

	// keep bounds the items of one kind of one session: the oldest go.
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemFlash, "flash", 0), 1), "a flash beside the secrets")
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(b.ID, storage.UIItemSecret, "b1", 0), 3), "b's secret")
	for i := range 5 {
		mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemSecret, fmt.Sprintf("k%d", i), time.Duration(i)*time.Second), 3), "put secret")
	}
	for i := range 5 {
		_, err := s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, fmt.Sprintf("k%d", i))
		if i < 2 {
			mustIs(t, err, storage.ErrNotFound, fmt.Sprintf("secret k%d beyond the 3 newest", i))
		} else {
			mustNil(t, err, fmt.Sprintf("secret k%d, one of the 3 newest", i))
		}
	}
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemFlash, "flash")
	mustNil(t, err, "the flash is not counted with the secrets")
	_, err = s.TakeUISessionItem(ctx, b.ID, storage.UIItemSecret, "b1")
	mustNil(t, err, "another session's secret is not counted")

	// Deleting a session deletes its items: a session of the same id
	// created afterwards has none.
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemSecret, "s9", 0), 8), "put before delete")
	mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemFlash, "flash", 0), 1), "flash before delete")
	mustNil(t, s.DeleteUISession(ctx, a.ID), "delete session")
	mustNil(t, s.CreateUISession(ctx, a), "create the same id again")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, "s9")
	mustIs(t, err, storage.ErrNotFound, "secret of a deleted session")
	_, err = s.TakeUISessionItem(ctx, a.ID, storage.UIItemFlash, "flash")
	mustIs(t, err, storage.ErrNotFound, "flash of a deleted session")
}

// testUISessionItemTakenOnce: takers racing for one item (as replicas
// serving two loads of one secret page would): exactly one gets it.
func testUISessionItemTakenOnce(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	a := newUISession(1)
	mustNil(t, s.CreateUISession(ctx, a), "create")
	const takers = 8
	for round := range 5 {
		slot := fmt.Sprintf("race%d", round)
		mustNil(t, s.PutUISessionItem(ctx, newUIItem(a.ID, storage.UIItemSecret, slot, 0), 8), "put")
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			wins  int
			other []error
		)
		start := make(chan struct{})
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.TakeUISessionItem(ctx, a.ID, storage.UIItemSecret, slot)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, storage.ErrNotFound):
					other = append(other, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("round %d: takers failed: %v", round, other)
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of %d concurrent takers got the item, want exactly 1", round, wins, takers)
		}
	}
}
