// Package apiv1 holds the JSON shapes of the issuer's HTTP API (version 1),
// shared by the server (issuer/api) and the CLI (issuer/cli).
package apiv1

import (
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// Error is the body of every error answer.
type Error struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
	// Reason refines Error on exchange answers (401 and 403).
	Reason string `json:"reason,omitempty"`
}

// List is the body of list answers. NextCursor, when not empty, is passed
// as ?after= to get the next page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/service-tokens.
type CreateTokenRequest struct {
	Name string `json:"name"`
	// Duration is Go duration syntax ("8760h") or "forever"; default 8760h.
	Duration string `json:"duration,omitempty"`
}

// UpdateTokenRequest is the body of PATCH /v1/service-tokens/{id}; absent
// fields are left alone. A new duration resets expires_at from now.
type UpdateTokenRequest struct {
	Name     *string `json:"name,omitempty"`
	Duration *string `json:"duration,omitempty"`
	Enabled  *bool   `json:"enabled,omitempty"`
}

// RotateTokenRequest is the body of POST /v1/service-tokens/{id}/rotate.
type RotateTokenRequest struct {
	// PreviousSecretExpiresAt keeps the old secret working until then (at
	// most 30 days ahead); absent, the old secret stops working at once.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// Grace is the same as a duration from now ("24h"); give at most one
	// of the two.
	Grace string `json:"grace,omitempty"`
}

// ImportTokenRequest is the body of POST /v1/service-tokens/import: an
// existing client id + secret pair (for example from Cloudflare Access).
type ImportTokenRequest struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Duration     string `json:"duration,omitempty"`
}

// Token is a service token as the API shows it. ClientSecret is set only in
// the answers to create and rotate.
type Token struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	ClientID                string     `json:"client_id"`
	ClientSecret            string     `json:"client_secret,omitempty"`
	ClientSecretVersion     int        `json:"client_secret_version"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Duration                string     `json:"duration"`
	ExpiresAt               *time.Time `json:"expires_at"`
	Enabled                 bool       `json:"enabled"`
	Status                  string     `json:"status"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	LastSeenAt              *time.Time `json:"last_seen_at"`
}

// CreateAppRequest is the body of POST /v1/apps.
type CreateAppRequest struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	// SessionDuration is the JWT lifetime in Go syntax; default 24h, at most 730h.
	SessionDuration string `json:"session_duration,omitempty"`
	// SessionAlgorithm is HS256 (the default: sessions verified in-filter
	// with a shared key) or RS256 (origins verify with the certs endpoint).
	SessionAlgorithm string `json:"session_algorithm,omitempty"`
}

// UpdateAppRequest is the body of PATCH /v1/apps/{id}; absent fields are left alone.
type UpdateAppRequest struct {
	Name            *string   `json:"name,omitempty"`
	Domains         *[]string `json:"domains,omitempty"`
	SessionDuration *string   `json:"session_duration,omitempty"`
	// SessionAlgorithm, when it differs from the app's, rotates to a new
	// key of that algorithm, signing after ActivateAfter (default 30s).
	SessionAlgorithm *string `json:"session_algorithm,omitempty"`
	ActivateAfter    *string `json:"activate_after,omitempty"`
}

// App is an application as the API shows it.
type App struct {
	ID                string     `json:"id"`
	Name              string     `json:"name"`
	Domains           []string   `json:"domains"`
	AUD               string     `json:"aud"`
	SessionDuration   string     `json:"session_duration"`
	KeyVersion        int        `json:"key_version"`
	KeyID             string     `json:"kid"`
	SessionAlgorithm  string     `json:"session_algorithm"`
	SessionsNotBefore *time.Time `json:"sessions_not_before"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Rule is one policy selector: {"service_token":{"token_id":ID}},
// {"any_valid_service_token":{}} or {"everyone":{}}.
type Rule = domain.Rule

// CreatePolicyRequest is the body of POST /v1/apps/{id}/policies.
type CreatePolicyRequest struct {
	Name     string `json:"name,omitempty"`
	Decision string `json:"decision"`
	Include  []Rule `json:"include"`
	Exclude  []Rule `json:"exclude,omitempty"`
}

// UpdatePolicyRequest is the body of PATCH /v1/apps/{id}/policies/{policy_id}.
type UpdatePolicyRequest struct {
	Name       *string `json:"name,omitempty"`
	Decision   *string `json:"decision,omitempty"`
	Include    *[]Rule `json:"include,omitempty"`
	Exclude    *[]Rule `json:"exclude,omitempty"`
	Precedence *int    `json:"precedence,omitempty"`
}

// Policy is a policy as the API shows it.
type Policy struct {
	ID         string    `json:"id"`
	AppID      string    `json:"app_id"`
	Name       string    `json:"name"`
	Decision   string    `json:"decision"`
	Include    []Rule    `json:"include"`
	Exclude    []Rule    `json:"exclude"`
	Precedence int       `json:"precedence"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ExchangeRequest is the body of POST /v1/exchange, sent by the filter.
type ExchangeRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AUD          string `json:"aud"`
	SourceIP     string `json:"source_ip,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
}

// ExchangeResponse is the 200 answer to POST /v1/exchange.
type ExchangeResponse struct {
	JWT       string `json:"jwt"`
	ExpiresAt int64  `json:"expires_at"` // Unix seconds
}

// AuditEvent is one audit log row as the API shows it. It never holds a
// secret or a secret hash.
type AuditEvent struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Actor     string    `json:"actor,omitempty"`
	TokenID   string    `json:"token_id,omitempty"`
	TokenName string    `json:"token_name,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	AppID     string    `json:"app_id,omitempty"`
	AppName   string    `json:"app_name,omitempty"`
	PolicyID  string    `json:"policy_id,omitempty"`
	SourceIP  string    `json:"source_ip,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	// Count and FirstTime are set on a row that stands for several
	// identical exchange denials (Count of them, from FirstTime to Time).
	Count     int        `json:"count,omitempty"`
	FirstTime *time.Time `json:"first_time,omitempty"`
}

// CreateAdminKeyRequest is the body of POST /v1/admin-keys.
type CreateAdminKeyRequest struct {
	Name string `json:"name"`
}

// AdminKey is an admin key as the API shows it; Key is set only in the
// answer to create.
type AdminKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// FilterConfig is the proxy-wasm filter's plugin configuration, as
// GET /v1/apps/{id}/filter-config returns it (every field present).
type FilterConfig struct {
	Audience              string       `json:"audience"`
	Keys                  []FilterKey  `json:"keys"`
	Issuer                FilterIssuer `json:"issuer"`
	CookieName            string       `json:"cookie_name"`
	TokenHeader           string       `json:"token_header"`
	ClientIDHeader        string       `json:"client_id_header"`
	ClientSecretHeader    string       `json:"client_secret_header"`
	JSONCredentialsHeader string       `json:"json_credentials_header"`
	AssertionHeader       string       `json:"assertion_header"`
	ExemptPathPrefixes    []string     `json:"exempt_path_prefixes"`
	AllowCORSPreflight    bool         `json:"allow_cors_preflight"`
	ClockSkewSeconds      int          `json:"clock_skew_seconds"`
	// SyncPeriodMS is the filter's tick: how often it polls filter sync.
	SyncPeriodMS int `json:"sync_period_ms"`
	// SessionCacheSize bounds each VM's cache of verified JWTs.
	SessionCacheSize int `json:"session_cache_size"`
	// CredentialCacheSize bounds each VM's cache of exchanged JWTs, keyed
	// by client id and a keyed hash of the secret.
	CredentialCacheSize int `json:"credential_cache_size"`
}

// FilterKey is one session key: kid and base64url (no padding) key.
//
// An RS256 key carries its public half only: alg "RS256" and the JWK n and e
// (base64url, no padding), and no key.
type FilterKey struct {
	KID string `json:"kid"`
	Key string `json:"key,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// FilterIssuer tells the filter how to reach the issuer.
type FilterIssuer struct {
	Cluster      string `json:"cluster"`
	Authority    string `json:"authority"`
	ExchangePath string `json:"exchange_path"`
	SyncPath     string `json:"sync_path"`
	TimeoutMS    int    `json:"timeout_ms"`
}

// RotateAppKeyRequest is the body of POST /v1/apps/{id}/keys/rotate.
type RotateAppKeyRequest struct {
	// ActivateAfter is how long the new key is published before the issuer
	// signs with it (Go syntax, 0s to 1h; default 30s).
	ActivateAfter string `json:"activate_after,omitempty"`
}

// AppKey is one version of an application's session key, as the admin API
// shows it (never the key material).
type AppKey struct {
	KID         string     `json:"kid"`
	Version     int        `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiresAt   *time.Time `json:"retires_at"`
	// State is pending, signing, previous or retired.
	State string `json:"state"`
	// Algorithm is HS256 or RS256.
	Algorithm string `json:"alg"`
}

// FilterSync is the 200 answer to GET /v1/filter-sync?aud=: what a filter
// must know to refuse revoked sessions and to verify every live one.
type FilterSync struct {
	ETag        string `json:"etag"`
	GeneratedAt int64  `json:"generated_at"`
	// SessionsNotBefore: sessions with iat < this are invalid (0: never revoked).
	SessionsNotBefore int64 `json:"sessions_not_before"`
	// RevokedTokens: sessions of these tokens with iat <= revoked_at are invalid.
	RevokedTokens []SyncRevokedToken `json:"revoked_tokens"`
	// DisabledTokens: every session of these tokens is invalid while listed.
	DisabledTokens []string `json:"disabled_tokens"`
	// SecretGraceEnds: when rotated tokens' previous secrets stop working;
	// from then on a filter must not serve, from its credential cache, a
	// session of that token it cached (iat) before that time.
	SecretGraceEnds []SyncSecretGraceEnd `json:"secret_grace_ends"`
	// Keys are every published key of the application.
	Keys []SyncKey `json:"keys"`
}

// SyncSecretGraceEnd: the token's previous secret stops working at
// PreviousSecretExpiresAt (Unix seconds, rounded up).
type SyncSecretGraceEnd struct {
	TokenID                 string `json:"token_id"`
	PreviousSecretExpiresAt int64  `json:"previous_secret_expires_at"`
}

// SyncRevokedToken is a token deleted, or rotated without grace, at RevokedAt (Unix seconds).
type SyncRevokedToken struct {
	TokenID   string `json:"token_id"`
	RevokedAt int64  `json:"revoked_at"`
}

// SyncKey is one published session key: kid, base64url (no padding) key,
// and when the issuer starts (or started) signing with it (Unix seconds).
// An RS256 key carries alg "RS256" and its public n and e instead of key.
type SyncKey struct {
	KID         string `json:"kid"`
	Key         string `json:"key,omitempty"`
	Alg         string `json:"alg,omitempty"`
	N           string `json:"n,omitempty"`
	E           string `json:"e,omitempty"`
	ActivatesAt int64  `json:"activates_at"`
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
}

// JWK is one RSA public key of the certs answer (RFC 7517).
type JWK struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	E   string `json:"e"`
	N   string `json:"n"`
}

// PublicCert is one key as a PEM certificate, as Cloudflare lists them.
type PublicCert struct {
	KID  string `json:"kid"`
	Cert string `json:"cert"`
}

// Certs is the answer of GET /cdn-cgi/access/certs (Cloudflare Access's shape).
type Certs struct {
	Keys        []JWK        `json:"keys"`
	PublicCert  *PublicCert  `json:"public_cert"`
	PublicCerts []PublicCert `json:"public_certs"`
}

// JWKS is the answer of GET /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}
