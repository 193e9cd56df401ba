// Package storage defines how the issuer keeps its state. Every backend
// (SQLite today, PostgreSQL later) implements Storage and must pass the
// suite in storage/conformance.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// Errors every backend returns, so callers never see driver errors for
// these cases. Compare with errors.Is.
var (
	ErrNotFound      = errors.New("storage: not found")
	ErrAlreadyExists = errors.New("storage: already exists")
)

// Storage is the issuer's persistent state. Every method takes a context
// and honours its cancellation. Update methods run updater inside one
// transaction on the current value and store what it returns; an error from
// updater aborts the update and is returned unchanged.
type Storage interface {
	Close() error
	// Ping reports whether the backend can serve requests.
	Ping(ctx context.Context) error

	// CreateToken returns ErrAlreadyExists when the id, name or client id
	// is taken.
	CreateToken(ctx context.Context, t domain.Token) error
	GetToken(ctx context.Context, id string) (domain.Token, error)
	GetTokenByClientID(ctx context.Context, clientID string) (domain.Token, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]domain.Token, error)
	// UpdateToken returns ErrAlreadyExists when the new name is taken.
	UpdateToken(ctx context.Context, id string, updater func(domain.Token) (domain.Token, error)) (domain.Token, error)
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
	// ListAudit returns events newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error)
	// DeleteAuditBefore deletes events older than before (retention) and
	// returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error)
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
	BeforeID int64     // only events with a smaller id (keyset paging)
	Limit    int       // 0 means no limit
}
