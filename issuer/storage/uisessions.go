package storage

import (
	"context"
	"time"
)

// Kinds of UISessionItem.
const (
	UIItemFlash  = "flash"  // the message shown once on the next page
	UIItemSecret = "secret" // a client secret waiting for its one-time page
)

// UISession is one dashboard sign-in as stored. The dashboard seals what
// is secret before it gets here, under a key derived from the session
// cookie, which is never stored: the storage sees neither the cookie, nor
// the admin key, nor a client secret.
type UISession struct {
	// ID is the hex SHA-256 of the session cookie's value.
	ID string
	// Actor is the admin key's name.
	Actor          string
	SealedAdminKey []byte
	SealedCSRF     []byte
	CreatedAt      time.Time
	// LastUsedAt is when the session was last used, to within the
	// dashboard's write interval (TouchUISession).
	LastUsedAt time.Time
	// HasFlash reports whether a flash item waits (read by GetUISession,
	// ignored by CreateUISession): a page takes it only then, as a DELETE
	// takes SQLite's write lock even when it matches nothing.
	HasFlash bool
}

// UISessionItem is a one-time item of a dashboard session: shown once, by
// whichever replica serves the page, then gone.
type UISessionItem struct {
	SessionID string
	Kind      string // UIItemFlash or UIItemSecret
	Slot      string // the item's handle within its session
	Sealed    []byte
	CreatedAt time.Time
}

// UISessionStorage keeps the dashboard's sign-in sessions, so that they
// survive a restart and every replica on the database knows them. It is
// all the dashboard needs of the storage (ui.Config.Sessions).
type UISessionStorage interface {
	// CreateUISession stores s; ErrAlreadyExists when its ID is taken.
	CreateUISession(ctx context.Context, s UISession) error
	// GetUISession returns the session of id, or ErrNotFound. It does not
	// check expiry: the dashboard does, with its own clock and limits.
	GetUISession(ctx context.Context, id string) (UISession, error)
	// TouchUISession moves the session's LastUsedAt forward to at (never
	// back); an unknown id is not an error.
	TouchUISession(ctx context.Context, id string, at time.Time) error
	// DeleteUISession deletes the session and its items; ErrNotFound when
	// there is none.
	DeleteUISession(ctx context.Context, id string) error
	// PruneUISessions deletes the expired sessions, those last used at or
	// before usedBy or created at or before createdBy, then the least
	// recently used beyond keep (of equally recent ones, the oldest); items
	// go with their sessions. It returns how many sessions it deleted.
	PruneUISessions(ctx context.Context, usedBy, createdBy time.Time, keep int) (int64, error)
	// PutUISessionItem stores it, replacing the session's item of the same
	// slot, then, when keep > 0, deletes the session's oldest items of its
	// kind beyond keep. ErrNotFound when the session does not exist.
	PutUISessionItem(ctx context.Context, it UISessionItem, keep int) error
	// TakeUISessionItem deletes the session's item of kind and slot and
	// returns it, in one statement: of concurrent calls, on any replica,
	// at most one gets it. ErrNotFound when there is none.
	TakeUISessionItem(ctx context.Context, sessionID, kind, slot string) (UISessionItem, error)
}
