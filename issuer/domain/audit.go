package domain

import "time"

// Audit event names.
const (
	EventTokenCreated    = "token.created"
	EventTokenUpdated    = "token.updated"
	EventTokenRefreshed  = "token.refreshed"
	EventTokenRotated    = "token.rotated"
	EventTokenDeleted    = "token.deleted"
	EventSessionIssued   = "session.issued"
	EventSessionDenied   = "session.denied"
	EventSessionsRevoke  = "sessions.revoked"
	EventAppCreated      = "app.created"
	EventAppUpdated      = "app.updated"
	EventAppDeleted      = "app.deleted"
	EventAppKeyRotated   = "app.key_rotated"
	EventPolicyCreated   = "policy.created"
	EventPolicyUpdated   = "policy.updated"
	EventPolicyDeleted   = "policy.deleted"
	EventAdminKeyAdded   = "admin_key.created"
	EventAdminKeyRevoked = "admin_key.revoked"
)

// AuditEvent is one row of the audit log. It never holds a secret or a
// secret hash: only ids, names and reason codes.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Event     string
	Actor     string // admin key name for admin actions, "exchange" for exchanges, "system"
	TokenID   string
	TokenName string
	ClientID  string
	AppID     string
	AppName   string
	PolicyID  string
	SourceIP  string
	RequestID string
	Reason    string
	Detail    string // short human-readable note
	// Count is how many identical events the row stands for (exchange
	// denials are aggregated per window), FirstTime the first of them; Time
	// is the last. Stored rows have Count >= 1 and FirstTime set.
	Count     int
	FirstTime time.Time
}

// Normalized is e as storage keeps it: Count at least 1, FirstTime set
// (Time for a single event).
func (e AuditEvent) Normalized() AuditEvent {
	if e.Count < 1 {
		e.Count = 1
	}
	if e.FirstTime.IsZero() {
		e.FirstTime = e.Time
	}
	return e
}

// Actors that are not admin keys.
const (
	ActorExchange = "exchange"
	ActorSystem   = "system"
)
