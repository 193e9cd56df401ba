package domain

import (
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
)

// App is an application a filter protects. Its AUD tag names it in session
// JWTs, and its HMAC keys are derived from the master key and AUD.
type App struct {
	ID              string
	Name            string
	Domains         []string
	AUD             string // 64 lowercase hex
	SessionDuration time.Duration
	// KeyVersion is the app's newest key version (kid suffix): 1 at
	// creation, one more at each key rotation. The newest key may not sign
	// yet; which key signs when is in the app's AppKeys.
	KeyVersion int
	// SessionAlgorithm is the JWS alg of the app's newest key (session.HS256
	// or session.RS256): what it signs with once that key activates, and
	// what a key rotation generates. Storage sets it from the keys.
	SessionAlgorithm string
	// FirstKey, given to CreateApp only, is the first key's algorithm and
	// material (nil: HS256, derived from the master key, nothing stored).
	// It is never read back.
	FirstKey *AppKey
	// SessionsNotBefore, when set, invalidates sessions issued before it.
	SessionsNotBefore *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Session duration bounds.
const (
	DefaultSessionDuration = 24 * time.Hour
	MaxSessionDuration     = 730 * time.Hour // one month
	MinSessionDuration     = time.Minute
)

// ParseSessionDuration parses an app's session duration; "" is the default.
func ParseSessionDuration(s string) (time.Duration, error) {
	if s == "" {
		return DefaultSessionDuration, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(EInvalid, "session_duration %q: want Go duration syntax such as \"24h\"", s)
	}
	if d < MinSessionDuration || d > MaxSessionDuration || d%time.Second != 0 {
		return 0, Errorf(EInvalid, "session_duration %q: must be whole seconds between %s and %s", s, FormatDuration(MinSessionDuration), FormatDuration(MaxSessionDuration))
	}
	return d, nil
}

// KeyID returns the kid of the app's signing key of the given version:
// aud[:12] + ".v" + version, the format the filter reads (session.KeyID).
func KeyID(aud string, version int) string { return session.KeyID(aud, version) }

// ValidAUD reports whether s is an audience tag: 64 lowercase hex, the shape
// the filter checks too (credential.ValidAudience).
func ValidAUD(s string) bool { return credential.ValidAudience(s) }

// MaxDomains bounds the domains of one app.
const MaxDomains = 100

// NormalizeDomains validates host[/path] patterns ("api.example.com",
// "*.example.com", "example.com/admin") and returns them lower-cased
// (hosts only) with duplicates removed. At least one is required.
func NormalizeDomains(domains []string) ([]string, error) {
	if len(domains) == 0 {
		return nil, Errorf(EInvalid, "domains: at least one domain is required")
	}
	if len(domains) > MaxDomains {
		return nil, Errorf(EInvalid, "domains: at most %d domains", MaxDomains)
	}
	out := make([]string, 0, len(domains))
	seen := make(map[string]bool, len(domains))
	for i, d := range domains {
		n, err := normalizeDomain(d)
		if err != nil {
			return nil, Errorf(EInvalid, "domains[%d] %q: %s", i, d, err.Error())
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

type domainError string

func (e domainError) Error() string { return string(e) }

func normalizeDomain(d string) (string, error) {
	if d == "" {
		return "", domainError("must not be empty")
	}
	if len(d) > 512 {
		return "", domainError("too long")
	}
	if strings.Contains(d, "://") {
		return "", domainError("give a host and optional path, without a scheme")
	}
	hostport, path, _ := strings.Cut(d, "/")
	hostport = strings.ToLower(hostport)
	host := hostport
	if h, port, ok := strings.Cut(hostport, ":"); ok {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", domainError("bad port")
		}
		host = h
	}
	if host == "" || len(host) > 253 {
		return "", domainError("bad host")
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", domainError("bad host")
		}
		for j := 0; j < len(l); j++ {
			if c := l[j]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return "", domainError("bad host")
			}
		}
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return "", domainError("bad path")
		}
	}
	if path == "" {
		return hostport, nil
	}
	return hostport + "/" + path, nil
}
