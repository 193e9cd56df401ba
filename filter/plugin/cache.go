package plugin

import (
	"strings"
	"unsafe"

	"github.com/dchest/siphash"

	"github.com/svcauth/svcauth/filter/session"
)

// sessionInfo is what the filter keeps of a session JWT it has verified: the
// claims that expiry and revocation are decided on.
type sessionInfo struct {
	exp, nbf, iat int64
	tokenID       string
	admittedBy    uint64 // the gen of the revocation state that last admitted it (revocation.admits)
}

// sessionInfoOf keeps what the filter needs of verified claims.
func sessionInfoOf(c session.Claims) sessionInfo {
	return sessionInfo{exp: c.ExpiresAt, nbf: c.NotBefore, iat: c.IssuedAt, tokenID: c.TokenID}
}

// usable reports whether the session is within its validity window at now,
// allowing skew seconds either side, as session.Verifier does.
func (s *sessionInfo) usable(now, skew int64) bool { return s.validity(now, skew) == nil }

// validity is nil for a usable session, else the error session.Verifier
// gives for the same claims at now (expired, or not yet valid).
func (s *sessionInfo) validity(now, skew int64) error {
	return session.CheckWindow(s.exp, s.nbf, now, skew)
}

// sessionCache is the per-VM cache of verified JWTs (SPEC §3 fast path). A
// token is found only if it is byte for byte one whose HMAC already verified
// with a key the filter still holds (the cache is emptied whenever a key is
// dropped). The slot is taken from the token's last bytes rather than the
// whole token, because a string key would be hashed, a pass over the whole
// token, on every lookup (one pass over 500 bytes costs 0.3-0.6 µs inside
// wasm: the comparison in BenchmarkLogicCacheGet); the last bytes of a
// valid token are its signature's, random to whoever does not hold the key,
// so two cached tokens share a slot with negligible probability, and when
// they do the newer one takes it (the other is verified again). A forged
// token that picks a cached token's slot only finds an entry whose text
// differs: a miss. Expiry is checked on every hit and revocation by the
// caller, so a cached entry never outlives either.
type sessionCache struct {
	exactCache[uint64, sessionInfo]
}

// tokenSlot is the slot of tok: its last 8 bytes (all of a shorter one,
// with its length), which costs no hashing of the whole token, and one load.
func tokenSlot(tok string) uint64 {
	n := len(tok)
	if n >= 8 {
		return le64(unsafe.Add(unsafe.Pointer(unsafe.StringData(tok)), n-8))
	}
	k := uint64(n) << 56
	for i := 0; i < n; i++ {
		k |= uint64(tok[i]) << (8 * i)
	}
	return k
}

func newSessionCache(max int) sessionCache {
	return sessionCache{newExactCache[uint64, sessionInfo](max)}
}

// get returns the cached session of tok: the entry itself, which the caller
// may update (revocation.admits remembers its answer there).
func (c *sessionCache) get(tok string) (*sessionInfo, bool) {
	return c.exactCache.get(tokenSlot(tok), tok)
}

// put remembers a verified token.
func (c *sessionCache) put(tok string, s sessionInfo) { c.exactCache.put(tokenSlot(tok), tok, s) }

// exactCache is a bounded map from a cheap slot (a few words, fast to hash
// inside wasm) to a value kept with the exact text it was stored under: an
// entry is found, replaced or removed only by that text (compared with
// sameText), whatever else maps to its slot. Past max entries the oldest
// insertion is evicted (FIFO through a ring of slots), which needs no
// per-hit bookkeeping. A removed entry stays in its slot as a tombstone
// until its turn in the ring comes (or a put revives it), so that map and ring
// always hold the same slots: deleting it would leave its ring position to
// evict whatever later takes the slot. Its memory grows with use, so that an idle VM's heap
// (which every collection scans) stays small. A VM is single-threaded: no
// locking.
type exactCache[K comparable, V any] struct {
	max     int
	entries map[K]*exactEntry[V]
	ring    []K
	next    int
}

type exactEntry[V any] struct {
	text    string
	val     V
	removed bool
}

func newExactCache[K comparable, V any](max int) exactCache[K, V] {
	return exactCache[K, V]{max: max, entries: map[K]*exactEntry[V]{}}
}

// get returns the value stored under text, in place.
func (c *exactCache[K, V]) get(slot K, text string) (*V, bool) {
	e, ok := c.entries[slot]
	if !ok || e.removed || !sameText(e.text, text) {
		return nil, false
	}
	return &e.val, true
}

// put stores v under text, taking slot from whatever held it. text is
// copied: callers pass substrings of whole header values, which must not be
// kept alive by the cache.
func (c *exactCache[K, V]) put(slot K, text string, v V) {
	if e, ok := c.entries[slot]; ok {
		if !sameText(e.text, text) {
			e.text = strings.Clone(text)
		}
		e.val, e.removed = v, false
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, slot)
	} else {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = slot
		c.next = (c.next + 1) % c.max
	}
	c.entries[slot] = &exactEntry[V]{text: strings.Clone(text), val: v}
}

// remove forgets the value stored under text, if slot holds it.
func (c *exactCache[K, V]) remove(slot K, text string) {
	if e, ok := c.entries[slot]; ok && !e.removed && sameText(e.text, text) {
		var zero V
		e.val, e.removed = zero, true // the value (a session, a JWT) need not stay alive
	}
}

func (c *exactCache[K, V]) clear() { *c = newExactCache[K, V](c.max) }

// credKey identifies a client id and secret pair without the secret: the
// client id plus a 128-bit SipHash-2-4 of the secret, keyed with a key
// derived from the application's key at plugin start. An entry is found only
// under its exact client id and whole hash (credentialCache, decodeCredEntry),
// so a pair matches only a pair with the same id and a secret of the same
// hash. SipHash is a keyed PRF: without the key nobody can find a secret that
// collides with another, and a random wrong secret matches with probability
// 2^-128. Inside wasm it costs well under a microsecond for a svcauth secret,
// against several for HMAC-SHA-256 (measured: docs/performance.md).
type credKey struct {
	id     string
	h0, h1 uint64
}

// credHasher computes credKeys.
type credHasher struct{ k0, k1 uint64 }

// key hashes secret where it lies (a header value, or the JSON header's
// string): no copy of it is made. (Hashing id with it would need both in
// one buffer: under wazero, zeroing and clearing that buffer cost more than
// the hash, as bulk memory operations go through the Go runtime.)
func (h credHasher) key(id, secret string) credKey {
	h0, h1 := siphash.Hash128(h.k0, h.k1, unsafe.Slice(unsafe.StringData(secret), len(secret)))
	return credKey{id: id, h0: h0, h1: h1}
}

// credEntry is an exchanged session kept for a credential pair.
type credEntry struct {
	jwt  string
	kid  string
	info sessionInfo
}

// credentialCache is the per-VM level of the credential cache (the shared
// level is in shared data, see credshare.go). The slot is the first half of
// the secret's 128-bit hash: a uint64 key takes the runtime's fast map path,
// while an array key is hashed by the generic one (about 0.7 µs of a cached
// header pair inside wasm, docs/performance.md). An entry is
// found only under its own client id (the exact text) and second half.
type credentialCache struct {
	exactCache[uint64, credSlot]
}

// credSlot is a cached pair's entry with the hash half its slot leaves out.
type credSlot struct {
	h1 uint64
	e  *credEntry
}

func newCredentialCache(max int) credentialCache {
	return credentialCache{newExactCache[uint64, credSlot](max)}
}

func (c *credentialCache) get(k credKey) (*credEntry, bool) {
	s, ok := c.exactCache.get(k.h0, k.id)
	if !ok || s.h1 != k.h1 {
		return nil, false
	}
	return s.e, true
}

// put remembers e for k.
func (c *credentialCache) put(k credKey, e *credEntry) {
	c.exactCache.put(k.h0, k.id, credSlot{k.h1, e})
}

// remove forgets k's entry, and no other pair's that shares its slot and id.
func (c *credentialCache) remove(k credKey) {
	if s, ok := c.exactCache.get(k.h0, k.id); ok && s.h1 == k.h1 {
		c.exactCache.remove(k.h0, k.id)
	}
}
