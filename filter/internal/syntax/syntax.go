// Package syntax holds the lexical rules that the plugin configuration, the
// sync answer and the shared credential table all apply to what they read:
// key ids, visible ASCII, RFC 9110 tokens, and the bounds on keys and times.
package syntax

import "strings"

const (
	// MinKeyBytes is the shortest HMAC key the filter accepts.
	MinKeyBytes = 32
	// MaxKIDLength bounds a key id.
	MaxKIDLength = 64
	// MaxUnixSeconds bounds the times the filter reads (2100-01-01).
	MaxUnixSeconds = 4102444800
)

// ValidKID reports whether s is a key id: 1 to MaxKIDLength letters,
// digits, '.', '_' or '-'.
func ValidKID(s string) bool {
	if len(s) == 0 || len(s) > MaxKIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IsToken reports whether s is an RFC 9110 token; lowerOnly also refuses
// upper-case letters, as proxies hand header names to the filter lower-cased.
func IsToken(s string, lowerOnly bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			if lowerOnly {
				return false
			}
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// VisibleASCII reports whether s has no control characters, spaces or
// bytes outside ASCII.
func VisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
