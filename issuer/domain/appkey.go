package domain

import (
	"sort"
	"time"

	"github.com/svcauth/svcauth/filter/session"
)

// AppKey is one version of an application's session key. An HS256 key's
// material is never stored: it is derived from the master key, the app's AUD
// and the kid (KeyID(aud, Version)). An RS256 key stores its public half and
// its private half sealed under a key derived from the master key
// (keys.Keyring.SealRSAKey); filters and origins get only the public half.
//
// Rotation is "publish first, sign later": a new version is published to
// filters (filter sync, filter-config) at once, but the issuer signs with it
// only from ActivatesAt, so every filter knows a key before it sees a JWT
// signed with it. The version it replaces stays published until the sessions
// it signed have expired, then it is retired.
type AppKey struct {
	AppID       string
	Version     int
	CreatedAt   time.Time
	ActivatesAt time.Time
	// RetiresAt is set on a key when a newer version is created: the newer
	// key's activation plus the app's session duration plus KeyRetireSkew.
	RetiresAt *time.Time
	// Algorithm is session.HS256 or session.RS256; "" reads as HS256.
	Algorithm string
	// PublicKey (PKIX DER) and SealedPrivateKey are set for RS256 only.
	PublicKey        []byte
	SealedPrivateKey []byte
}

// IsRSA reports whether k is an RS256 key.
func (k AppKey) IsRSA() bool { return k.Algorithm == session.RS256 }

// ParseSessionAlgorithm parses an app's session_algorithm; "" is HS256.
func ParseSessionAlgorithm(s string) (string, error) {
	switch s {
	case "", session.HS256:
		return session.HS256, nil
	case session.RS256:
		return session.RS256, nil
	}
	return "", Errorf(EInvalid, "session_algorithm %q: want HS256 or RS256", s)
}

// FirstAppKey returns the first key CreateApp stores for a: version
// a.KeyVersion, created and active at a.CreatedAt, with a.FirstKey's
// algorithm and material.
func FirstAppKey(a App) AppKey {
	k := AppKey{AppID: a.ID, Version: a.KeyVersion, CreatedAt: a.CreatedAt, ActivatesAt: a.CreatedAt, Algorithm: session.HS256}
	if a.FirstKey != nil && a.FirstKey.Algorithm != "" {
		k.Algorithm, k.PublicKey, k.SealedPrivateKey = a.FirstKey.Algorithm, a.FirstKey.PublicKey, a.FirstKey.SealedPrivateKey
	}
	return k
}

// Key states, as `svcauth keys list` shows them.
const (
	KeyPending  = "pending"  // published, not yet signing
	KeySigning  = "signing"  // the key new sessions are signed with
	KeyPrevious = "previous" // published for the sessions it signed
	KeyRetired  = "retired"  // no longer published or accepted
)

// Key rotation bounds.
const (
	DefaultKeyActivateAfter = 30 * time.Second
	MaxKeyActivateAfter     = time.Hour
	// KeyRetireSkew is kept beyond the last session a key signed, for
	// clock skew between issuer and filters.
	KeyRetireSkew = 5 * time.Minute
)

// ParseKeyActivateAfter parses how long after a rotation the new key starts
// signing: Go duration syntax, 0 to 1h; "" is the default (30s).
func ParseKeyActivateAfter(s string) (time.Duration, error) {
	if s == "" {
		return DefaultKeyActivateAfter, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(EInvalid, "activate_after %q: want Go duration syntax such as \"30s\"", s)
	}
	if d < 0 || d > MaxKeyActivateAfter {
		return 0, Errorf(EInvalid, "activate_after %q: must be between 0s and %s", s, FormatDuration(MaxKeyActivateAfter))
	}
	return d, nil
}

// KeyStatus is an app key with its state at a given time.
type KeyStatus struct {
	AppKey
	KID   string
	State string
	// Retires is when the key stops being published (nil while it is the
	// newest): the later of the stored RetiresAt and what the app's current
	// session duration requires.
	Retires *time.Time
}

// sortKeys returns keys sorted by version (a copy).
func sortKeys(keys []AppKey) []AppKey {
	out := append([]AppKey(nil), keys...)
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// KeyStatuses returns the app's keys, by version, with their state at now.
// The signing key is the newest version whose activation has come; a key
// stops signing when a newer one activates, and retires once the sessions it
// could have signed (app.SessionDuration) and KeyRetireSkew have passed.
func KeyStatuses(app App, keys []AppKey, now time.Time) []KeyStatus {
	sorted := sortKeys(keys)
	out := make([]KeyStatus, len(sorted))
	signer := -1
	for i := range sorted {
		if !sorted[i].ActivatesAt.After(now) {
			signer = i
		}
	}
	for i, k := range sorted {
		st := KeyStatus{AppKey: k, KID: KeyID(app.AUD, k.Version)}
		// The key signs until the first later version activates.
		var stop *time.Time
		for _, later := range sorted[i+1:] {
			if stop == nil || later.ActivatesAt.Before(*stop) {
				a := later.ActivatesAt
				stop = &a
			}
		}
		if stop != nil {
			r := stop.Add(app.SessionDuration + KeyRetireSkew)
			if k.RetiresAt != nil && k.RetiresAt.After(r) {
				r = *k.RetiresAt
			}
			st.Retires = &r
		}
		switch {
		case st.Retires != nil && !now.Before(*st.Retires):
			st.State = KeyRetired
		case i == signer:
			st.State = KeySigning
		case k.ActivatesAt.After(now):
			st.State = KeyPending
		default:
			st.State = KeyPrevious
		}
		out[i] = st
	}
	return out
}

// SigningKey returns the key new sessions of the app are signed with at now.
func SigningKey(app App, keys []AppKey, now time.Time) (KeyStatus, bool) {
	for _, k := range KeyStatuses(app, keys, now) {
		if k.State == KeySigning {
			return k, true
		}
	}
	return KeyStatus{}, false
}

// PublishedKeys returns the keys filters must know at now (every state but
// retired), by version.
func PublishedKeys(app App, keys []AppKey, now time.Time) []KeyStatus {
	var out []KeyStatus
	for _, k := range KeyStatuses(app, keys, now) {
		if k.State != KeyRetired {
			out = append(out, k)
		}
	}
	return out
}

// NextKeyRetirement returns the earliest time after now at which a published
// key retires, or the zero time when none will.
func NextKeyRetirement(app App, keys []AppKey, now time.Time) time.Time {
	var next time.Time
	for _, k := range KeyStatuses(app, keys, now) {
		if k.State != KeyRetired && k.Retires != nil && (next.IsZero() || k.Retires.Before(next)) {
			next = *k.Retires
		}
	}
	return next
}

// NextKeyVersion returns the version a rotation of app's keys adds.
func NextKeyVersion(app App, keys []AppKey) int {
	version := app.KeyVersion
	for _, k := range keys {
		version = max(version, k.Version)
	}
	return version + 1
}

// RotateAppKeys returns keys with a new version added, created at now and
// signing from now + activateAfter, with material's algorithm and key
// material (the zero AppKey: HS256), and the newest previous version's
// RetiresAt set to when the sessions it signs will have expired.
func RotateAppKeys(app App, keys []AppKey, now time.Time, activateAfter time.Duration, material AppKey) ([]AppKey, AppKey) {
	out := sortKeys(keys)
	nk := AppKey{AppID: app.ID, Version: NextKeyVersion(app, keys), CreatedAt: now, ActivatesAt: now.Add(activateAfter),
		Algorithm: session.HS256}
	if material.Algorithm != "" {
		nk.Algorithm, nk.PublicKey, nk.SealedPrivateKey = material.Algorithm, material.PublicKey, material.SealedPrivateKey
	}
	if n := len(out); n > 0 {
		r := nk.ActivatesAt.Add(app.SessionDuration + KeyRetireSkew)
		if out[n-1].RetiresAt == nil || out[n-1].RetiresAt.Before(r) {
			out[n-1].RetiresAt = &r
		}
	}
	return append(out, nk), nk
}

// TokenRevocation says that every session of a service token issued at or
// before RevokedAt is revoked: the token was deleted, or its secret rotated
// without a grace period.
type TokenRevocation struct {
	TokenID   string
	RevokedAt time.Time
}

// SecretGraceEnd says that a service token's previous secret, kept working
// for a rotation's grace period, stops working at EndsAt. Filters use it to
// stop serving, after EndsAt, sessions they cached for the token's header
// pair before EndsAt: those may have been exchanged with the old secret.
type SecretGraceEnd struct {
	TokenID string
	EndsAt  time.Time
}

// RevocationRetention is how long revocations matter for an app: after its
// session duration and KeyRetireSkew, every session they revoke has expired.
func RevocationRetention(app App) time.Duration { return app.SessionDuration + KeyRetireSkew }

// MaxRevocationRetention bounds RevocationRetention for every app; older
// revocation records can be pruned.
const MaxRevocationRetention = MaxSessionDuration + KeyRetireSkew

// SessionIssuedAt returns the iat (Unix seconds) of a session issued at now
// for tok in app. JWT times are whole seconds while revocations are not: the
// filter refuses iat < ceil(app's sessions_not_before) and iat <= floor(the
// token's sessions_revoked_at), so a session issued after a revocation in
// the same second is dated just after it (at most one second ahead), and
// never mistaken for a revoked one.
func SessionIssuedAt(app *App, tok *Token, now time.Time) int64 {
	iat := now.Unix()
	if app.SessionsNotBefore != nil {
		if nb := CeilUnix(*app.SessionsNotBefore); nb > iat {
			iat = nb
		}
	}
	if tok.SessionsRevokedAt != nil {
		if r := tok.SessionsRevokedAt.Unix() + 1; r > iat {
			iat = r
		}
	}
	return iat
}

// CeilUnix returns t in Unix seconds, rounded up.
func CeilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
