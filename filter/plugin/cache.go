package plugin

import (
	"strings"

	"github.com/dchest/siphash"
)

// sessionInfo is what the filter keeps of a session JWT it has verified: the
// claims that expiry and revocation are decided on.
type sessionInfo struct {
	exp, nbf, iat int64
	tokenID       string
	admittedBy    uint64 // the gen of the revocation state that last admitted it (revocation.admits)
}

// usable reports whether the session is within its validity window at now,
// allowing skew seconds either side, as session.Verifier does.
func (s *sessionInfo) usable(now, skew int64) bool {
	return now < s.exp+skew && now+skew >= s.nbf
}

// sessionCache is the per-VM cache of verified JWTs (SPEC §3 fast path). A
// token is found only if it is byte for byte one whose HMAC already verified
// with a key the filter still holds (the cache is emptied whenever a key is
// dropped): get compares the whole token with the one stored. The map is
// keyed by a 64-bit slot taken from the token's last bytes rather than by
// the token itself, because inside wasm hashing a 500-byte string key on
// every lookup costs microseconds (README "Performance"); the last bytes of
// a valid token are its signature's, random to whoever does not hold the
// key, so two cached tokens share a slot with negligible probability, and
// when they do the newer one takes it (the other is verified again). A
// forged token that picks a cached token's slot only finds an entry whose
// text differs: a miss. Expiry is checked on every hit and revocation by the
// caller, so a cached entry never outlives either. It is bounded: past max
// entries the oldest insertion is evicted (FIFO through a ring of slots),
// which needs no per-hit bookkeeping. A VM is single-threaded: no locking.
type sessionCache struct {
	max     int
	entries map[uint64]*sessionEntry
	ring    []uint64
	next    int
}

type sessionEntry struct {
	tok  string
	info sessionInfo
}

// tokenSlot is the map key of tok: its last 8 bytes (all of a shorter one,
// with its length), which costs no hashing of the whole token.
func tokenSlot(tok string) uint64 {
	var k uint64
	n := len(tok)
	for i := max(0, n-8); i < n; i++ {
		k = k<<8 | uint64(tok[i])
	}
	if n < 8 {
		k |= uint64(n) << 56
	}
	return k
}

// newSessionCache returns an empty cache; its memory grows with use, so that
// an idle VM's heap (which every collection scans) stays small.
func newSessionCache(max int) sessionCache {
	return sessionCache{max: max, entries: map[uint64]*sessionEntry{}}
}

// get returns the cached session of tok: the entry itself, which the caller
// may update (revocation.admits remembers its answer there).
func (c *sessionCache) get(tok string) (*sessionInfo, bool) {
	e, ok := c.entries[tokenSlot(tok)]
	if !ok || !sameText(e.tok, tok) {
		return nil, false
	}
	return &e.info, true
}

// put remembers a verified token. tok is copied: callers pass substrings of
// whole header values, which must not be kept alive by the cache.
func (c *sessionCache) put(tok string, s sessionInfo) {
	slot := tokenSlot(tok)
	if e, ok := c.entries[slot]; ok {
		if !sameText(e.tok, tok) {
			e.tok = strings.Clone(tok)
		}
		e.info = s
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, slot)
	} else {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = slot
		c.next = (c.next + 1) % c.max
	}
	c.entries[slot] = &sessionEntry{tok: strings.Clone(tok), info: s}
}

// remove forgets tok (and nothing else that shares its slot).
func (c *sessionCache) remove(tok string) {
	slot := tokenSlot(tok)
	if e, ok := c.entries[slot]; ok && sameText(e.tok, tok) {
		delete(c.entries, slot)
	}
}

func (c *sessionCache) len() int { return len(c.entries) }

func (c *sessionCache) clear() {
	c.entries, c.ring, c.next = map[uint64]*sessionEntry{}, nil, 0
}

// credKey identifies a client id and secret pair without the secret: the
// client id plus a 128-bit SipHash-2-4 of id and secret, keyed with a key
// derived from the application's key at plugin start. SipHash is a keyed
// PRF: without the key nobody can find a secret that collides with another,
// and a random wrong secret matches with probability 2^-128. Inside wasm it
// costs well under a microsecond for a svcauth secret, against several for
// HMAC-SHA-256 (measured: README "Performance").
type credKey struct {
	id     string
	h0, h1 uint64
}

// credHasher computes credKeys.
type credHasher struct{ k0, k1 uint64 }

// key hashes id and secret. The secret is copied into a stack buffer (and
// wiped) rather than converted, so no copy of it is left in the heap.
func (h credHasher) key(id, secret string) credKey {
	var stack [256]byte
	buf := stack[:]
	if need := len(id) + 1 + len(secret); need > len(buf) {
		buf = make([]byte, need) // credentials are shape-checked first: never in practice
	}
	n := copy(buf, id)
	buf[n] = 0
	n++
	n += copy(buf[n:], secret)
	h0, h1 := siphash.Hash128(h.k0, h.k1, buf[:n])
	clear(buf)
	return credKey{id: id, h0: h0, h1: h1}
}

// credEntry is an exchanged session kept for a credential pair.
type credEntry struct {
	jwt  string
	kid  string
	info sessionInfo
}

// credentialCache is the per-VM level of the credential cache (the shared
// level is in shared data, see credshare.go). Bounded and FIFO like
// sessionCache. The map is keyed by the 128-bit hash alone, which is cheap to
// hash inside wasm; the client id is compared on a hit (sameText), so a pair
// is found only under its own client id.
type credentialCache struct {
	max     int
	entries map[[2]uint64]credSlot
	ring    [][2]uint64
	next    int
}

type credSlot struct {
	id string
	e  *credEntry
}

func newCredentialCache(max int) credentialCache {
	return credentialCache{max: max, entries: map[[2]uint64]credSlot{}}
}

func (c *credentialCache) get(k credKey) (*credEntry, bool) {
	s, ok := c.entries[[2]uint64{k.h0, k.h1}]
	if !ok || !sameText(s.id, k.id) {
		return nil, false
	}
	return s.e, true
}

// put remembers e for k; k's client id is copied (callers pass substrings
// of header values).
func (c *credentialCache) put(k credKey, e *credEntry) {
	h := [2]uint64{k.h0, k.h1}
	if s, ok := c.entries[h]; ok {
		if !sameText(s.id, k.id) {
			s.id = strings.Clone(k.id)
		}
		s.e = e
		c.entries[h] = s
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, h)
	} else {
		delete(c.entries, c.ring[c.next])
		c.ring[c.next] = h
		c.next = (c.next + 1) % c.max
	}
	c.entries[h] = credSlot{id: strings.Clone(k.id), e: e}
}

func (c *credentialCache) remove(k credKey) {
	h := [2]uint64{k.h0, k.h1}
	if s, ok := c.entries[h]; ok && sameText(s.id, k.id) {
		delete(c.entries, h)
	}
}

func (c *credentialCache) len() int { return len(c.entries) }

func (c *credentialCache) clear() {
	c.entries, c.ring, c.next = map[[2]uint64]credSlot{}, nil, 0
}
