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
}

// Actors that are not admin keys.
const (
	ActorExchange = "exchange"
	ActorSystem   = "system"
)
