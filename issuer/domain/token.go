package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token is a service token: a named credential (client id + secret) that an
// automated client exchanges for session JWTs. Only keyed hashes of secrets
// are ever stored.
type Token struct {
	ID       string
	Name     string
	ClientID string
	// SecretHash is the keyed hash of the current secret.
	SecretHash []byte
	// PreviousSecretHash stays valid until PreviousSecretExpiresAt (rotation
	// with a grace period); both are zero when there is none.
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt *time.Time
	ClientSecretVersion     int
	// Duration is the token's lifetime; Forever when it never expires.
	Duration  TokenDuration
	ExpiresAt *time.Time // nil when Duration is Forever
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastSeenAt is the time of the last successful exchange, or nil.
	LastSeenAt *time.Time
	// SessionsRevokedAt, when set, revokes every session of the token
	// issued at or before it (secret rotated without grace, or the token
	// about to be deleted). Filters learn it through filter sync.
	SessionsRevokedAt *time.Time
}

// Token statuses, derived from Enabled and ExpiresAt at a given time.
const (
	StatusActive   = "active"
	StatusExpiring = "expiring" // expires within ExpiringWindow
	StatusExpired  = "expired"
	StatusDisabled = "disabled"
)

// ExpiringWindow is how long before expiry a token is flagged as expiring.
const ExpiringWindow = 7 * 24 * time.Hour

// Status returns the token's status at now.
func (t *Token) Status(now time.Time) string {
	switch {
	case !t.Enabled:
		return StatusDisabled
	case t.Expired(now):
		return StatusExpired
	case t.ExpiresAt != nil && !now.Add(ExpiringWindow).Before(*t.ExpiresAt):
		return StatusExpiring
	default:
		return StatusActive
	}
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// ExpiryFrom returns the expiry of a token of duration d that starts at now.
func ExpiryFrom(now time.Time, d TokenDuration) *time.Time {
	if d.Forever() {
		return nil
	}
	e := now.Add(d.D)
	return &e
}

// TokenDuration is a service token lifetime: a positive duration, or forever
// (the zero value).
type TokenDuration struct{ D time.Duration }

// Forever is the lifetime of a token that never expires.
var Forever = TokenDuration{}

// DefaultTokenDuration is one year, as in Cloudflare Access.
var DefaultTokenDuration = TokenDuration{8760 * time.Hour}

// MaxTokenDuration bounds finite lifetimes (100 years): beyond that, use forever.
const MaxTokenDuration = 876000 * time.Hour

// MinTokenDuration bounds lifetimes from below.
const MinTokenDuration = time.Minute

// Forever reports whether the token never expires.
func (d TokenDuration) Forever() bool { return d.D == 0 }

// String formats d as ParseTokenDuration accepts it: "forever", or Go
// duration syntax with whole hours written as "8760h".
func (d TokenDuration) String() string {
	if d.Forever() {
		return "forever"
	}
	return FormatDuration(d.D)
}

// ParseTokenDuration parses "forever" or Go duration syntax ("8760h", "30m").
// The empty string means the default (one year).
func ParseTokenDuration(s string) (TokenDuration, error) {
	switch s {
	case "":
		return DefaultTokenDuration, nil
	case "forever":
		return Forever, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return TokenDuration{}, Errorf(EInvalid, "duration %q: want Go duration syntax such as \"8760h\", or \"forever\"", s)
	}
	if d < MinTokenDuration || d > MaxTokenDuration {
		return TokenDuration{}, Errorf(EInvalid, "duration %q: must be between %s and %s, or \"forever\"", s, FormatDuration(MinTokenDuration), FormatDuration(MaxTokenDuration))
	}
	return TokenDuration{d}, nil
}

// FormatDuration writes whole hours as "24h" and anything else in Go syntax.
func FormatDuration(d time.Duration) string {
	if d != 0 && d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// MaxNameLength bounds token, app, policy and admin key names.
const MaxNameLength = 128

// ValidateName checks a display name: what names what (for the message),
// 1..MaxNameLength characters of valid UTF-8, no surrounding space, and
// only characters that show as themselves (forbiddenInName).
func ValidateName(what, name string) error {
	switch {
	case name == "":
		return Errorf(EInvalid, "%s: name is required", what)
	case !utf8.ValidString(name):
		return Errorf(EInvalid, "%s: name is not valid UTF-8 at byte %d", what, InvalidUTF8At(name))
	case utf8.RuneCountInString(name) > MaxNameLength:
		return Errorf(EInvalid, "%s: name must be at most %d characters", what, MaxNameLength)
	case strings.TrimSpace(name) != name:
		return Errorf(EInvalid, "%s: name must not start or end with white space", what)
	}
	pos := 0
	for _, r := range name {
		pos++
		if kind := forbiddenInName(r); kind != "" {
			return Errorf(EInvalid, "%s: name: character %d is %U, %s; names must not contain control, format or separator characters", what, pos, r, kind)
		}
	}
	return nil
}

// forbiddenInName says why r may not be in a name, or "". Names are shown
// in tables, logs and the dashboard: a control character breaks lines, a
// format character (bidi overrides such as U+202E, zero-width U+200B) makes
// "admin" and a look-alike print the same or reorders what follows, and
// U+FFFD stands for bytes that were not text.
func forbiddenInName(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "a format character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case r == utf8.RuneError:
		return "the replacement character (the text was not valid UTF-8)"
	case unicode.Is(unicode.Noncharacter_Code_Point, r):
		return "a noncharacter"
	}
	return ""
}

// InvalidUTF8At is the byte offset of the first invalid UTF-8 sequence in
// s, or -1.
func InvalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return i
			}
		}
	}
	return -1
}

// MaxRotationGrace bounds how long a rotated-out secret keeps working.
const MaxRotationGrace = 30 * 24 * time.Hour
