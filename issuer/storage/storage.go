// Package storage defines how the issuer keeps its state. Every backend
// (SQLite and PostgreSQL) implements Storage and must pass the
// suite in storage/conformance.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// Errors every backend returns, so callers never see driver errors for
// these cases. Compare with errors.Is.
var (
	ErrNotFound      = errors.New("storage: not found")
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrClientIDRetired is returned when a token would get the client id of
	// a deleted token: deleted credentials never come back. It matches
	// ErrAlreadyExists too.
	ErrClientIDRetired = fmt.Errorf("%w: client id of a deleted service token", ErrAlreadyExists)
)

// Storage is the issuer's persistent state. Every method takes a context
// and honours its cancellation. Update methods run updater inside one
// transaction on the current value and store what it returns; an error from
// updater aborts the update and is returned unchanged.
type Storage interface {
	Close() error
	// Ping reports whether the backend can serve requests.
	Ping(ctx context.Context) error
	// SizeBytes is how much space the database takes (the metric
	// svcauth_database_size_bytes: the audit log is what grows).
	SizeBytes(ctx context.Context) (int64, error)

	// CreateToken returns ErrAlreadyExists when the id, name or client id
	// is taken, and ErrClientIDRetired when the client id belonged to a
	// deleted token (DeleteToken retires it for good).
	CreateToken(ctx context.Context, t domain.Token) error
	GetToken(ctx context.Context, id string) (domain.Token, error)
	GetTokenByClientID(ctx context.Context, clientID string) (domain.Token, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]domain.Token, error)
	// UpdateToken returns ErrAlreadyExists when the new name is taken.
	UpdateToken(ctx context.Context, id string, updater func(domain.Token) (domain.Token, error)) (domain.Token, error)
	// DeleteToken deletes the token and retires its client id.
	DeleteToken(ctx context.Context, id string) error
	// TouchTokens sets last_seen_at for many tokens at once (batched
	// bookkeeping of successful exchanges); unknown ids are ignored.
	TouchTokens(ctx context.Context, seen map[string]time.Time) error

	// CreateApp returns ErrAlreadyExists when the id, name or aud is taken.
	CreateApp(ctx context.Context, a domain.App) error
	GetApp(ctx context.Context, id string) (domain.App, error)
	GetAppByAUD(ctx context.Context, aud string) (domain.App, error)
	ListApps(ctx context.Context) ([]domain.App, error)
	UpdateApp(ctx context.Context, id string, updater func(domain.App) (domain.App, error)) (domain.App, error)
	// DeleteApp deletes the app and its policies.
	DeleteApp(ctx context.Context, id string) error

	// CreatePolicy appends p to its app's policies: its Precedence is set to
	// one more than the app's highest, and the stored policy returned.
	// It returns ErrNotFound when the app does not exist.
	CreatePolicy(ctx context.Context, p domain.Policy) (domain.Policy, error)
	GetPolicy(ctx context.Context, appID, id string) (domain.Policy, error)
	// ListPolicies returns the app's policies by precedence.
	ListPolicies(ctx context.Context, appID string) ([]domain.Policy, error)
	UpdatePolicy(ctx context.Context, appID, id string, updater func(domain.Policy) (domain.Policy, error)) (domain.Policy, error)
	DeletePolicy(ctx context.Context, appID, id string) error
	// PoliciesNamingToken returns every policy (of any app) whose rules name
	// the token.
	PoliciesNamingToken(ctx context.Context, tokenID string) ([]domain.Policy, error)

	// CreateAdminKey returns ErrAlreadyExists when the id, name or hash is
	// taken.
	CreateAdminKey(ctx context.Context, k domain.AdminKey) error
	// ListAdminKeys returns every admin key, revoked ones included, by name.
	ListAdminKeys(ctx context.Context) ([]domain.AdminKey, error)
	UpdateAdminKey(ctx context.Context, id string, updater func(domain.AdminKey) (domain.AdminKey, error)) (domain.AdminKey, error)

	// AppendAudit stores e and returns it with its ID set. A zero Time is an
	// error: callers stamp events with their own clock.
	AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error)
	// AppendAudits stores events in one transaction, in order (batched
	// writes of exchange events); an invalid event fails the whole batch.
	AppendAudits(ctx context.Context, events []domain.AuditEvent) error
	// ListAudit returns events newest first: by time, then by id (events
	// may be appended out of time order, when written in batches).
	ListAudit(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error)
	// DeleteAuditBefore deletes events older than before (retention) and
	// returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error)

	// App key ring and filter sync (see SyncStorage).
	SyncStorage
	// Dashboard sign-in sessions (see UISessionStorage).
	UISessionStorage
}

// SyncStorage is the part of Storage behind key rotation and filter sync.
//
// Besides these methods, every backend keeps these rules, in the same
// transaction as the change that triggers them, whoever makes it:
//   - CreateApp also creates the app's first key: version a.KeyVersion,
//     created and active at a.CreatedAt.
//   - DeleteToken records a revocation of the token (ListRevokedTokens) at
//     its SessionsRevokedAt, or at the backend's current time when unset.
//   - The sync generation (SyncGeneration) grows with every change filters
//     must learn about: a token's Enabled, SessionsRevokedAt or
//     PreviousSecretExpiresAt changing, a
//     token deleted, an app's SessionsNotBefore, SessionDuration, AUD or
//     KeyVersion changing, an app deleted, its keys changing.
type SyncStorage interface {
	// ListAppKeys returns the app's keys by version, or ErrNotFound when
	// the app does not exist.
	ListAppKeys(ctx context.Context, appID string) ([]domain.AppKey, error)
	// UpdateAppKeys runs updater on the app and its keys (by version) in one
	// transaction and stores the keys it returns: new versions are added,
	// others updated, missing ones deleted; the app's KeyVersion becomes the
	// highest version. It returns the stored keys by version.
	UpdateAppKeys(ctx context.Context, appID string, updater func(domain.App, []domain.AppKey) ([]domain.AppKey, error)) ([]domain.AppKey, error)
	// SyncGeneration returns the sync generation: one cheap read.
	SyncGeneration(ctx context.Context) (int64, error)
	// ListRevokedTokens returns the revocations (tokens with
	// SessionsRevokedAt set, and deleted tokens) at or after since, by
	// token id.
	ListRevokedTokens(ctx context.Context, since time.Time) ([]domain.TokenRevocation, error)
	// ListSecretGraceEnds returns, by token id, the tokens whose previous
	// secret (kept for a rotation's grace period) stops or stopped working
	// at or after since.
	ListSecretGraceEnds(ctx context.Context, since time.Time) ([]domain.SecretGraceEnd, error)
	// ListDisabledTokenIDs returns the ids of disabled tokens, sorted.
	ListDisabledTokenIDs(ctx context.Context) ([]string, error)
	// DeleteTokenRevocationsBefore forgets deleted tokens' revocations older
	// than before and returns how many it deleted.
	DeleteTokenRevocationsBefore(ctx context.Context, before time.Time) (int64, error)
}

// TokenFilter selects and pages tokens. Tokens are sorted by name.
type TokenFilter struct {
	Name  string // exact name, when set
	After string // return names after this one (keyset paging)
	Limit int    // 0 means no limit
}

// AuditFilter selects and pages audit events (newest first).
type AuditFilter struct {
	TokenID  string
	AppID    string
	Event    string
	Since    time.Time // inclusive, when not zero
	Until    time.Time // exclusive, when not zero
	BeforeID int64     // only events after this one in the listing order (keyset paging)
	Limit    int       // 0 means no limit
}
