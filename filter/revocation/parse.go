package revocation

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/svcauth/svcauth/filter/internal/syntax"
	"github.com/svcauth/svcauth/filter/session"
)

// Sync is a parsed 200 answer of the sync endpoint.
type Sync struct {
	ETag        string
	GeneratedAt int64
	State       *State
	Keys        []Key
}

// MaxBody bounds the sync answer the filter reads and shares.
const MaxBody = 4 << 20

// ParseSync validates a sync answer (its State not yet installed). Unknown fields are ignored (the
// issuer may add some); every field the contract defines must have its type,
// and there must be at least one usable key, or the whole answer is refused
// and the previous state stays.
func ParseSync(body []byte) (*Sync, error) {
	if len(body) == 0 || len(body) > MaxBody || !gjson.ValidBytes(body) {
		return nil, errors.New("not a JSON document of at most 4 MiB")
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return nil, errors.New("not a JSON object")
	}
	st := &Sync{State: &State{}}
	var err error
	fail := func(msg string) bool { err = errors.New(msg); return false }
	haveKeys := false
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "etag":
			if v.Type != gjson.String || len(v.Str) > 256 || !syntax.VisibleASCII(v.Str) || strings.ContainsRune(v.Str, '"') {
				return fail("etag must be a short string")
			}
			st.ETag = v.Str
		case "generated_at":
			n, ok := unixField(v)
			if !ok {
				return fail("generated_at must be Unix seconds")
			}
			st.GeneratedAt = n
		case "sessions_not_before":
			n, ok := unixField(v)
			if !ok {
				return fail("sessions_not_before must be Unix seconds")
			}
			st.State.notBefore = n
		case "revoked_tokens":
			if err = tokenTimes(v, "revoked_tokens", "revoked_at", true, &st.State.revoked); err != nil {
				return false
			}
		case "disabled_tokens":
			if !v.IsArray() && v.Type != gjson.Null {
				return fail("disabled_tokens must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				if e.Type != gjson.String || e.Str == "" {
					return fail("disabled_tokens entries must be token ids")
				}
				if st.State.disabled == nil {
					st.State.disabled = map[string]struct{}{}
				}
				st.State.disabled[e.Str] = struct{}{}
				return true
			})
		case "secret_grace_ends":
			if err = tokenTimes(v, "secret_grace_ends", "previous_secret_expires_at", false, &st.State.graceEnds); err != nil {
				return false
			}
		case "keys":
			haveKeys = true
			if !v.IsArray() {
				return fail("keys must be an array")
			}
			v.ForEach(func(_, e gjson.Result) bool {
				kid, at := e.Get("kid"), e.Get("activates_at")
				if !e.IsObject() || kid.Type != gjson.String || !syntax.ValidKID(kid.Str) {
					return fail("keys entries must be {kid, key, activates_at} or {kid, alg: RS256, n, e, activates_at}")
				}
				k, kerr := syncKey(kid.Str, e)
				if kerr != nil {
					return fail(kerr.Error())
				}
				var n int64
				if at.Exists() {
					var ok bool
					if n, ok = unixField(at); !ok {
						return fail("key " + kid.Str + ": activates_at must be Unix seconds")
					}
				}
				for _, seen := range st.Keys {
					if seen.Key.ID == kid.Str {
						return fail("duplicate key id " + kid.Str)
					}
				}
				st.Keys = append(st.Keys, NewKey(k, n))
				return true
			})
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if !haveKeys || len(st.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	return st, nil
}

// syncKey reads one key of a sync answer: an HS256 secret, or the public
// half of an RS256 key (n, e), never both.
func syncKey(kid string, e gjson.Result) (session.Key, error) {
	alg, key, n, ex := e.Get("alg"), e.Get("key"), e.Get("n"), e.Get("e")
	switch {
	case alg.Exists() && alg.Type == gjson.String && alg.Str == session.RS256:
		if key.Exists() || n.Type != gjson.String || ex.Type != gjson.String {
			return session.Key{}, errors.New("RS256 key " + kid + " must carry n and e and no key")
		}
		pub, err := session.ParseRSAPublicJWK(n.Str, ex.Str)
		if err != nil {
			return session.Key{}, errors.New("key " + kid + ": " + strings.TrimPrefix(err.Error(), "session: "))
		}
		return session.Key{ID: kid, Public: pub}, nil
	case alg.Exists() && (alg.Type != gjson.String || alg.Str != session.HS256):
		return session.Key{}, errors.New("key " + kid + ": alg must be HS256 or RS256")
	}
	if key.Type != gjson.String || n.Exists() || ex.Exists() {
		return session.Key{}, errors.New("HS256 key " + kid + " must carry key and no n or e")
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(key.Str)
	if err != nil || len(secret) < syntax.MinKeyBytes {
		return session.Key{}, errors.New("key " + kid + " is not base64url of at least 32 bytes")
	}
	return session.Key{ID: kid, Secret: secret}, nil
}

// tokenTimes reads field, an array of {token_id, <timeField>} objects (or
// null), into *dst. When an id repeats, latest keeps its latest time (a
// revocation), else the last one listed counts.
func tokenTimes(v gjson.Result, field, timeField string, latest bool, dst *map[string]int64) error {
	if !v.IsArray() && v.Type != gjson.Null {
		return errors.New(field + " must be an array")
	}
	var err error
	v.ForEach(func(_, e gjson.Result) bool {
		id, at := e.Get("token_id"), e.Get(timeField)
		n, ok := unixField(at)
		if !e.IsObject() || id.Type != gjson.String || id.Str == "" || !ok {
			err = errors.New(field + " entries must be {token_id, " + timeField + "}")
			return false
		}
		if *dst == nil {
			*dst = map[string]int64{}
		}
		if prev, seen := (*dst)[id.Str]; !seen || !latest || n > prev {
			(*dst)[id.Str] = n
		}
		return true
	})
	return err
}

func unixField(v gjson.Result) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < 0 || n > syntax.MaxUnixSeconds {
		return 0, false
	}
	return n, true
}
