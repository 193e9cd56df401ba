package plugin

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/tidwall/gjson"
)

// revocation is the issuer's revocation state for the application
// (filter/SYNC-PROTOCOL.md): a session is refused when its iat is before
// notBefore, its token is disabled, or its token was revoked at or after the
// session was issued. Checks are map lookups, done on every request, cached
// or not.
type revocation struct {
	gen       uint64 // this VM's installation number (applyState); 0: never installed
	notBefore int64
	revoked   map[string]int64 // token id → revoked_at
	disabled  map[string]struct{}
	graceEnds map[string]int64 // token id → when its previous secret stops working
}

var noRevocation = &revocation{}

// errRevoked is the 401 reason of a session the revocation state refuses.
var errRevoked = &session.Error{Reason: "revoked"}

// admits is !refuses, remembered in s: an installed state never changes (a
// sync installs a new one, with a new gen), so a session it admitted once it
// admits again, without the map lookups (which cost a good part of a cached
// request inside wasm). s must be the cached entry itself, not a copy.
func (r *revocation) admits(s *sessionInfo) bool {
	if r.gen != 0 && s.admittedBy == r.gen {
		return true
	}
	if r.refuses(s) {
		return false
	}
	s.admittedBy = r.gen
	return true
}

func (r *revocation) refuses(s *sessionInfo) bool {
	if s.iat < r.notBefore {
		return true
	}
	if len(r.disabled) > 0 {
		if _, ok := r.disabled[s.tokenID]; ok {
			return true
		}
	}
	if len(r.revoked) > 0 {
		if at, ok := r.revoked[s.tokenID]; ok && s.iat <= at {
			return true
		}
	}
	return false
}

// retiresCredential reports whether a session cached for a header pair must
// not be served from the credential cache any more: its token's previous
// secret (kept for a rotation's grace period) stopped working at or before
// now, and the session was cached before that, so it may have been exchanged
// with the old secret. The session itself stays valid (as a cookie); the
// pair is exchanged again, which succeeds only with the current secret.
func (r *revocation) retiresCredential(s *sessionInfo, now int64) bool {
	if len(r.graceEnds) == 0 {
		return false
	}
	end, ok := r.graceEnds[s.tokenID]
	return ok && now >= end && s.iat < end
}

// keyInfo is one HMAC key the filter accepts, with when the issuer starts
// signing with it (0: already, or unknown, as for configured keys).
type keyInfo struct {
	key         session.Key
	activatesAt int64
	version     int64 // the N of a kid ending ".vN" (the issuer's key ids); 0 otherwise
}

func newKeyInfo(k session.Key, activatesAt int64) keyInfo {
	return keyInfo{key: k, activatesAt: activatesAt, version: session.KeyVersion(k.ID)}
}

// signingKey returns the key sync requests are signed with: the newest key
// that is already active at now ("publish first, sign later": a pending key
// may not be known to the issuer's sync authentication as current yet).
// Newest is the latest activation, then the highest version, then the last
// listed. With no active key at all it takes the one activating first.
func signingKey(keys []keyInfo, now int64) keyInfo {
	best := -1
	for i := range keys {
		k := &keys[i]
		if k.activatesAt > now {
			continue
		}
		if best < 0 || k.activatesAt > keys[best].activatesAt ||
			k.activatesAt == keys[best].activatesAt && k.version >= keys[best].version {
			best = i
		}
	}
	if best >= 0 {
		return keys[best]
	}
	for i := range keys {
		if best < 0 || keys[i].activatesAt < keys[best].activatesAt {
			best = i
		}
	}
	return keys[best]
}

func sameKeys(a, b []keyInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].key.ID != b[i].key.ID || a[i].activatesAt != b[i].activatesAt ||
			string(a[i].key.Secret) != string(b[i].key.Secret) {
			return false
		}
	}
	return true
}

// droppedKey reports whether a key of old is missing from (or changed in) next.
func droppedKey(old, next []keyInfo) bool {
outer:
	for _, o := range old {
		for _, n := range next {
			if n.key.ID == o.key.ID && string(n.key.Secret) == string(o.key.Secret) {
				continue outer
			}
		}
		return true
	}
	return false
}

// syncState is a parsed 200 answer of the sync endpoint.
type syncState struct {
	etag        string
	generatedAt int64
	rev         *revocation
	keys        []keyInfo
}

// maxSyncBody bounds the sync answer the filter reads and shares.
const maxSyncBody = 4 << 20

// parseSyncState validates a sync answer. Unknown fields are ignored (the
// issuer may add some); every field the contract defines must have its type,
// and there must be at least one usable key, or the whole answer is refused
// and the previous state stays.
func parseSyncState(body []byte) (*syncState, error) {
	if len(body) == 0 || len(body) > maxSyncBody || !gjson.ValidBytes(body) {
		return nil, errors.New("not a JSON document of at most 4 MiB")
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return nil, errors.New("not a JSON object")
	}
	st := &syncState{rev: &revocation{}}
	var err error
	fail := func(msg string) bool { err = errors.New(msg); return false }
	haveKeys := false
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "etag":
			if v.Type != gjson.String || len(v.Str) > 256 || !isVisibleASCII(v.Str) || strings.ContainsRune(v.Str, '"') {
				return fail("etag must be a short string")
			}
			st.etag = v.Str
		case "generated_at":
			n, ok := unixField(v)
			if !ok {
				return fail("generated_at must be Unix seconds")
			}
			st.generatedAt = n
		case "sessions_not_before":
			n, ok := unixField(v)
			if !ok {
				return fail("sessions_not_before must be Unix seconds")
			}
			st.rev.notBefore = n
		case "revoked_tokens":
			if !v.IsArray() && v.Type != gjson.Null {
				return fail("revoked_tokens must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				id, at := e.Get("token_id"), e.Get("revoked_at")
				n, ok := unixField(at)
				if !e.IsObject() || id.Type != gjson.String || id.Str == "" || !ok {
					return fail("revoked_tokens entries must be {token_id, revoked_at}")
				}
				if st.rev.revoked == nil {
					st.rev.revoked = map[string]int64{}
				}
				if prev, seen := st.rev.revoked[id.Str]; !seen || n > prev {
					st.rev.revoked[id.Str] = n
				}
				return true
			})
		case "disabled_tokens":
			if !v.IsArray() && v.Type != gjson.Null {
				return fail("disabled_tokens must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				if e.Type != gjson.String || e.Str == "" {
					return fail("disabled_tokens entries must be token ids")
				}
				if st.rev.disabled == nil {
					st.rev.disabled = map[string]struct{}{}
				}
				st.rev.disabled[e.Str] = struct{}{}
				return true
			})
		case "secret_grace_ends":
			if !v.IsArray() && v.Type != gjson.Null {
				return fail("secret_grace_ends must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				id, at := e.Get("token_id"), e.Get("previous_secret_expires_at")
				n, ok := unixField(at)
				if !e.IsObject() || id.Type != gjson.String || id.Str == "" || !ok {
					return fail("secret_grace_ends entries must be {token_id, previous_secret_expires_at}")
				}
				if st.rev.graceEnds == nil {
					st.rev.graceEnds = map[string]int64{}
				}
				st.rev.graceEnds[id.Str] = n
				return true
			})
		case "keys":
			haveKeys = true
			if !v.IsArray() {
				return fail("keys must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				kid, key, at := e.Get("kid"), e.Get("key"), e.Get("activates_at")
				if !e.IsObject() || kid.Type != gjson.String || !validKid(kid.Str) || key.Type != gjson.String {
					return fail("keys entries must be {kid, key, activates_at}")
				}
				secret, derr := base64.RawURLEncoding.Strict().DecodeString(key.Str)
				if derr != nil || len(secret) < minKeyBytes {
					return fail("key " + kid.Str + " is not base64url of at least 32 bytes")
				}
				var n int64
				if at.Exists() {
					var ok bool
					if n, ok = unixField(at); !ok {
						return fail("key " + kid.Str + ": activates_at must be Unix seconds")
					}
				}
				for _, seen := range st.keys {
					if seen.key.ID == kid.Str {
						return fail("duplicate key id " + kid.Str)
					}
				}
				st.keys = append(st.keys, newKeyInfo(session.Key{ID: kid.Str, Secret: secret}, n))
				return true
			})
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if !haveKeys || len(st.keys) == 0 {
		return nil, errors.New("no keys")
	}
	return st, nil
}

func unixField(v gjson.Result) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < 0 || n > maxUnixSeconds {
		return 0, false
	}
	return n, true
}
