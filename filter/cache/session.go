package cache

import "github.com/svcauth/svcauth/filter/session"

// Session is what the filter keeps of a session JWT it has verified: the
// claims that expiry and revocation are decided on.
type Session struct {
	Exp, NBF, IAT int64
	TokenID       string
	// AdmittedBy is the generation of the revocation state that last
	// admitted the session (revocation.State.Admits remembers it here).
	AdmittedBy uint64
}

// SessionOf keeps what the filter needs of verified claims.
func SessionOf(c session.Claims) Session {
	return Session{Exp: c.ExpiresAt, NBF: c.NotBefore, IAT: c.IssuedAt, TokenID: c.TokenID}
}

// Usable reports whether the session is within its validity window at now,
// allowing skew seconds either side, as session.Verifier does.
func (s *Session) Usable(now, skew int64) bool { return s.Validity(now, skew) == nil }

// Validity is nil for a usable session, else the error session.Verifier
// gives for the same claims at now (expired, or not yet valid).
func (s *Session) Validity(now, skew int64) error {
	return session.CheckWindow(s.Exp, s.NBF, now, skew)
}
