package ui

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/svcauth/svcauth/issuer/storage"
)

// Sessions live in the database (storage.UISessionStorage), sealed (see
// seal.go): whichever replica a request reaches, and after any restart,
// the cookie finds its session. Every lookup checks expiry with this
// store's clock and limits. Errors are the database's: pages answer them
// with 503 (Handler.storeUnavailable), never by signing the browser out.

// Bounds of one-time secret slots.
const (
	maxSlotsPerSession = 8
	slotTTL            = 15 * time.Minute
	// slotLen is the length of a slot's handle: 132 random bits.
	slotLen = 22
)

// flashSlot is the one slot of a session's flash message: a new message
// replaces the one not yet shown.
const flashSlot = "flash"

// touchEvery is how stale a session's stored last use may get before a
// lookup writes it: one write a minute per session at most, not one per
// page. Idle expiry is therefore exact to within touchEvery, and errs
// early: a session can end up to a minute before IdleTimeout after its
// last use, never after.
const touchEvery = time.Minute

// flash is a message shown once on the next page.
type flash struct {
	Kind    string // "success" or "error"
	Message string
}

// oneTime is a client secret waiting to be shown once.
type oneTime struct {
	TokenID      string
	TokenName    string
	ClientID     string
	ClientSecret string
	Rotated      bool
	// PreviousUntil is when the rotated-out secret stops working (nil:
	// it already has).
	PreviousUntil *time.Time
}

// sessionView is a session opened for one request.
type sessionView struct {
	key      string // the stored id: SHA-256 of the cookie value
	adminKey string // used as the bearer key of the session's API calls
	Actor    string
	CSRF     string
	seal     *sealer // opens the session's items; nil without a session
	hasFlash bool    // a flash message waited when the session was read
}

type sessionStore struct {
	db          storage.UISessionStorage
	log         *slog.Logger
	now         func() time.Time
	idle        time.Duration
	maxAge      time.Duration
	maxSessions int
}

func newSessionStore(db storage.UISessionStorage, log *slog.Logger, now func() time.Time, idle, maxAge time.Duration, maxSessions int) *sessionStore {
	return &sessionStore{db: db, log: log, now: now, idle: idle, maxAge: maxAge, maxSessions: maxSessions}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (st *sessionStore) expired(s storage.UISession, now time.Time) bool {
	return now.Sub(s.LastUsedAt) >= st.idle || now.Sub(s.CreatedAt) >= st.maxAge
}

// create starts a session and returns its cookie value. Expired sessions
// are deleted, and the least recently used beyond maxSessions: a sign-in
// needs a valid admin key, but a script holding one must not grow the
// table without bound.
func (st *sessionStore) create(ctx context.Context, adminKey, actor string) (string, error) {
	value := randomToken()
	seal, err := newSealer(value)
	if err != nil {
		return "", err
	}
	now := st.now()
	sealedKey, err := seal.seal(purposeAdminKey, []byte(adminKey))
	if err != nil {
		return "", err
	}
	sealedCSRF, err := seal.seal(purposeCSRF, []byte(randomToken()))
	if err != nil {
		return "", err
	}
	// Room for the new session first, so that it is never the one pruned.
	if _, err := st.db.PruneUISessions(ctx, now.Add(-st.idle), now.Add(-st.maxAge), st.maxSessions-1); err != nil {
		return "", err
	}
	err = st.db.CreateUISession(ctx, storage.UISession{ID: sessionID(value), Actor: actor, SealedAdminKey: sealedKey, SealedCSRF: sealedCSRF,
		CreatedAt: now, LastUsedAt: now})
	if err != nil {
		return "", err
	}
	return value, nil
}

// get returns the live session of cookie value v (ok false when there is
// none) and records its use. An error is the store's: the caller cannot
// tell whether the browser is signed in.
func (st *sessionStore) get(ctx context.Context, v string) (sessionView, bool, error) {
	if v == "" {
		return sessionView{}, false, nil
	}
	id := sessionID(v)
	s, err := st.db.GetUISession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return sessionView{}, false, nil
	}
	if err != nil {
		return sessionView{}, false, err
	}
	now := st.now()
	if st.expired(s, now) {
		st.drop(ctx, id, "expired")
		return sessionView{}, false, nil
	}
	view, err := openSession(v, s)
	view.hasFlash = s.HasFlash
	if err != nil {
		// The row matches the cookie's hash but not its key: altered in the
		// database. It can never serve a request.
		st.drop(ctx, id, "unreadable")
		return sessionView{}, false, nil
	}
	if now.Sub(s.LastUsedAt) >= touchEvery {
		if err := st.db.TouchUISession(ctx, id, now); err != nil {
			// The page can still be served; the cost is a session that may
			// idle out early.
			st.log.Warn("dashboard: could not record a session's use", "err", err)
		}
	}
	return view, true, nil
}

// openSession unseals the session s of cookie value v.
func openSession(v string, s storage.UISession) (sessionView, error) {
	seal, err := newSealer(v)
	if err != nil {
		return sessionView{}, err
	}
	adminKey, err := seal.open(purposeAdminKey, s.SealedAdminKey)
	if err != nil {
		return sessionView{}, err
	}
	csrf, err := seal.open(purposeCSRF, s.SealedCSRF)
	if err != nil {
		return sessionView{}, err
	}
	return sessionView{key: s.ID, adminKey: string(adminKey), Actor: s.Actor, CSRF: string(csrf), seal: seal}, nil
}

// drop deletes a session that lookups refuse anyway; a failure only
// leaves the row to the next sign-in's pruning.
func (st *sessionStore) drop(ctx context.Context, id, why string) {
	if err := st.db.DeleteUISession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		st.log.Warn("dashboard: could not delete a session", "why", why, "err", err)
	}
}

// delete ends the session of s.
func (st *sessionStore) delete(ctx context.Context, s sessionView) error {
	if err := st.db.DeleteUISession(ctx, s.key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// put seals v as the session's item of kind and slot, keeping at most
// keep of that kind. It reports false when the session has ended.
func (st *sessionStore) put(ctx context.Context, s sessionView, kind, slot string, v any, keep int) (bool, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	sealed, err := s.seal.seal(purposeItem(kind, slot), plain)
	clear(plain)
	if err != nil {
		return false, err
	}
	err = st.db.PutUISessionItem(ctx, storage.UISessionItem{SessionID: s.key, Kind: kind, Slot: slot, Sealed: sealed, CreatedAt: st.now()}, keep)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// take deletes the session's item of kind and slot and opens it into v.
// It reports false when there is none, or it is older than ttl (0: no
// limit) or does not open; the item is gone either way.
func (st *sessionStore) take(ctx context.Context, s sessionView, kind, slot string, ttl time.Duration, v any) (bool, error) {
	it, err := st.db.TakeUISessionItem(ctx, s.key, kind, slot)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ttl > 0 && st.now().Sub(it.CreatedAt) >= ttl {
		return false, nil
	}
	plain, err := s.seal.open(purposeItem(kind, slot), it.Sealed)
	if err != nil {
		return false, nil
	}
	defer clear(plain)
	return json.Unmarshal(plain, v) == nil, nil
}

func (st *sessionStore) setFlash(ctx context.Context, s sessionView, kind, message string) error {
	_, err := st.put(ctx, s, storage.UIItemFlash, flashSlot, flash{Kind: kind, Message: message}, 1)
	return err
}

// takeFlash runs on every page, and goes to the database only when the
// session's lookup saw a message waiting.
func (st *sessionStore) takeFlash(ctx context.Context, s sessionView) (*flash, error) {
	if !s.hasFlash {
		return nil, nil
	}
	var f flash
	ok, err := st.take(ctx, s, storage.UIItemFlash, flashSlot, 0, &f)
	if !ok {
		return nil, err
	}
	return &f, nil
}

// putSecret stores o for one showing and returns the slot's id, which is
// a random handle (not the secret) valid only with this session; "" when
// the session has ended. The oldest slots beyond maxSlotsPerSession go.
func (st *sessionStore) putSecret(ctx context.Context, s sessionView, o oneTime) (string, error) {
	id := randomToken()[:slotLen]
	ok, err := st.put(ctx, s, storage.UIItemSecret, id, o, maxSlotsPerSession)
	if !ok {
		return "", err
	}
	return id, nil
}

// takeSecret returns the slot's secret and empties the slot, atomically in
// the database: a second call, on any replica, finds nothing.
func (st *sessionStore) takeSecret(ctx context.Context, s sessionView, id string) (oneTime, bool, error) {
	if len(id) != slotLen {
		return oneTime{}, false, nil
	}
	var o oneTime
	ok, err := st.take(ctx, s, storage.UIItemSecret, id, slotTTL, &o)
	return o, ok, err
}
