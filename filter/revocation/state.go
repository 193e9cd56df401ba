package revocation

import (
	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/session"
)

// State is the issuer's revocation state for the application: a session is
// refused when its iat is before notBefore, its token is disabled, or its
// token was revoked at or after the session was issued. Checks are map
// lookups, done on every request, cached or not. An installed State never
// changes: a sync installs a new one.
type State struct {
	gen       uint64 // the VM's installation number (Install); 0: never installed
	notBefore int64
	revoked   map[string]int64 // token id → revoked_at
	disabled  map[string]struct{}
	graceEnds map[string]int64 // token id → when its previous secret stops working
}

// None is the state before any sync: it refuses nothing.
var None = &State{}

// ErrRevoked is the 401 reason of a session the state refuses.
var ErrRevoked = &session.Error{Reason: "revoked"}

// Install makes s the state that follows prev in this VM, numbering it so
// that Admits can tell states apart, and returns it.
func (s *State) Install(prev *State) *State {
	s.gen = prev.gen + 1
	return s
}

// Admits is !Refuses, remembered in the session: as an installed state
// never changes, a session it admitted once it admits again without the map
// lookups (which cost a good part of a cached request inside wasm). sess
// must be the cached entry itself, not a copy.
func (s *State) Admits(sess *cache.Session) bool {
	if s.gen != 0 && sess.AdmittedBy == s.gen {
		return true
	}
	if s.Refuses(sess) {
		return false
	}
	sess.AdmittedBy = s.gen
	return true
}

// Refuses reports whether the state revokes the session.
func (s *State) Refuses(sess *cache.Session) bool {
	if sess.IAT < s.notBefore {
		return true
	}
	if len(s.disabled) > 0 {
		if _, ok := s.disabled[sess.TokenID]; ok {
			return true
		}
	}
	if len(s.revoked) > 0 {
		if at, ok := s.revoked[sess.TokenID]; ok && sess.IAT <= at {
			return true
		}
	}
	return false
}

// RetiresCredential reports whether a session cached for a header pair must
// not be served from the credential cache any more: its token's previous
// secret (kept for a rotation's grace period) stopped working at or before
// now, and the session was cached before that, so it may have been
// exchanged with the old secret. The session itself stays valid (as a
// cookie); the pair is exchanged again, which succeeds only with the
// current secret.
func (s *State) RetiresCredential(sess *cache.Session, now int64) bool {
	if len(s.graceEnds) == 0 {
		return false
	}
	end, ok := s.graceEnds[sess.TokenID]
	return ok && now >= end && sess.IAT < end
}
