package revocation

import "github.com/svcauth/svcauth/filter/session"

// Key is one session key the filter accepts (HS256 or RS256), with when the issuer starts
// signing with it (0: already, or unknown, as for configured keys).
type Key struct {
	Key         session.Key
	ActivatesAt int64
	Version     int64 // the N of a kid ending ".vN" (the issuer's key ids); 0 otherwise
}

// NewKey describes k.
func NewKey(k session.Key, activatesAt int64) Key {
	return Key{Key: k, ActivatesAt: activatesAt, Version: session.KeyVersion(k.ID)}
}

// SigningKey returns the key the application signs with at now, as far as
// this filter can tell (the signing-version gauge): the newest key that is
// already active ("publish first, sign later"). Newest is the latest
// activation, then the highest version, then the last listed. With no
// active key at all it takes the one activating first.
func SigningKey(keys []Key, now int64) Key { return keys[newestKey(keys, now, false)] }

// SyncSigningKey returns the key sync requests are signed with: the
// SigningKey among the HS256 keys. An RS256 key has no secret to sign with:
// with no HS256 key the filter polls unsigned (ok false), and the issuer
// answers such polls for apps that publish an RS256 key, without their
// HS256 keys (SYNC-PROTOCOL.md).
func SyncSigningKey(keys []Key, now int64) (Key, bool) {
	i := newestKey(keys, now, true)
	if i < 0 {
		return Key{}, false
	}
	return keys[i], true
}

// newestKey is the index SigningKey describes, among the HS256 keys only
// when hmacOnly; -1 when there is none.
func newestKey(keys []Key, now int64, hmacOnly bool) int {
	best := -1
	for i := range keys {
		k := &keys[i]
		if k.ActivatesAt > now || hmacOnly && k.Key.Public != nil {
			continue
		}
		if best < 0 || k.ActivatesAt > keys[best].ActivatesAt ||
			k.ActivatesAt == keys[best].ActivatesAt && k.Version >= keys[best].Version {
			best = i
		}
	}
	if best >= 0 {
		return best
	}
	for i := range keys {
		if hmacOnly && keys[i].Key.Public != nil {
			continue
		}
		if best < 0 || keys[i].ActivatesAt < keys[best].ActivatesAt {
			best = i
		}
	}
	return best
}

// sameKey reports whether a and b are the same key material.
func sameKey(a, b session.Key) bool {
	if (a.Public == nil) != (b.Public == nil) {
		return false
	}
	if a.Public != nil {
		return a.Public.Equal(b.Public)
	}
	return string(a.Secret) == string(b.Secret)
}

// SameKeys reports whether a and b list the same keys in the same order.
func SameKeys(a, b []Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key.ID != b[i].Key.ID || a[i].ActivatesAt != b[i].ActivatesAt || !sameKey(a[i].Key, b[i].Key) {
			return false
		}
	}
	return true
}

// DroppedKey reports whether a key of old is missing from (or changed in) next.
func DroppedKey(old, next []Key) bool {
outer:
	for _, o := range old {
		for _, n := range next {
			if n.Key.ID == o.Key.ID && sameKey(n.Key, o.Key) {
				continue outer
			}
		}
		return true
	}
	return false
}
