package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/dchest/siphash"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// CredKey identifies a client id and secret pair without the secret: the
// client id plus a 128-bit SipHash-2-4 of the secret, keyed with a key
// derived from the proxy's random hash key (SharedHashKey) at plugin start. An entry is found only
// under its exact client id and whole hash (Credentials, DecodeShared), so a
// pair matches only a pair with the same id and a secret of the same hash.
// SipHash is a keyed PRF: without the key nobody can find a secret that
// collides with another, and a random wrong secret matches with probability
// 2^-128. Inside wasm it costs well under a microsecond for a svcauth
// secret, against several for HMAC-SHA-256 (docs/performance.md).
type CredKey struct {
	ID     string
	h0, h1 uint64
}

// Hasher computes CredKeys.
type Hasher struct{ k0, k1 uint64 }

// NewHasher derives the SipHash key of audience's cache from key (the
// filter uses SharedHashKey's): the same in every VM of the proxy (the
// shared table needs that) and unknown outside it.
func NewHasher(key []byte, audience string) Hasher {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("svcauth/credential-cache/v2\n" + audience)) // v2: the hash is of the secret alone
	sum := m.Sum(nil)
	return Hasher{k0: binary.LittleEndian.Uint64(sum[0:8]), k1: binary.LittleEndian.Uint64(sum[8:16])}
}

// Key hashes secret where it lies (a header value, or the JSON header's
// string): no copy of it is made (rawmem.Bytes says why). (Hashing id with it would need both in
// one buffer: under wazero, zeroing and clearing that buffer cost more than
// the hash, as bulk memory operations go through the Go runtime.)
func (h Hasher) Key(id, secret string) CredKey {
	h0, h1 := siphash.Hash128(h.k0, h.k1, rawmem.Bytes(secret))
	return CredKey{ID: id, h0: h0, h1: h1}
}

// Slot is where the key's entry lives in a table of n slots.
func (k CredKey) Slot(n int) uint64 { return k.h0 % uint64(n) }

// CredEntry is an exchanged session kept for a credential pair.
type CredEntry struct {
	JWT  string
	KID  string
	Info Session
}

// Credentials is the per-VM level of the credential cache (the shared level
// is in shared data: shared.go). The slot is the first half of the secret's
// 128-bit hash: a uint64 key takes the runtime's fast map path, while an
// array key is hashed by the generic one (about 0.7 µs of a cached header
// pair inside wasm, docs/performance.md). An entry is found only under its
// own client id (the exact text) and second half.
type Credentials struct {
	exact[uint64, credSlot]
}

// credSlot is a cached pair's entry with the hash half its slot leaves out.
type credSlot struct {
	h1 uint64
	e  *CredEntry
}

// NewCredentials returns a cache of at most max pairs.
func NewCredentials(max int) Credentials { return Credentials{newExact[uint64, credSlot](max)} }

// Get returns the entry of k.
func (c *Credentials) Get(k CredKey) (*CredEntry, bool) {
	s, ok := c.get(k.h0, k.ID)
	if !ok || s.h1 != k.h1 {
		return nil, false
	}
	return s.e, true
}

// Put remembers e for k.
func (c *Credentials) Put(k CredKey, e *CredEntry) { c.put(k.h0, k.ID, credSlot{k.h1, e}) }

// Remove forgets k's entry, and no other pair's that shares its slot and id.
func (c *Credentials) Remove(k CredKey) {
	if s, ok := c.get(k.h0, k.ID); ok && s.h1 == k.h1 {
		c.remove(k.h0, k.ID)
	}
}

// Clear forgets every pair.
func (c *Credentials) Clear() { c.clear() }
