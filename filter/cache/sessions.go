package cache

// Sessions is the per-VM cache of verified JWTs. A token is found only if
// it is byte for byte one whose HMAC already verified with a key the filter
// still holds (the plugin empties the cache whenever a key is dropped). The
// slot is taken from the token's last bytes rather than the whole token,
// because a string key would be hashed, a pass over the whole token, on
// every lookup (one pass over 500 bytes costs 0.3-0.6 µs inside wasm:
// BenchmarkLogicCacheGet); the last bytes of a valid token are its
// signature's, random to whoever does not hold the key, so two cached tokens
// share a slot with negligible probability, and when they do the newer one
// takes it (the other is verified again). A forged token that picks a cached
// token's slot only finds an entry whose text differs: a miss.
type Sessions struct {
	exact[uint64, Session]
}

// NewSessions returns a cache of at most max sessions.
func NewSessions(max int) Sessions { return Sessions{newExact[uint64, Session](max)} }

// tokenSlot is the slot of tok: its last 8 bytes (all of a shorter one,
// with its length), which costs no hashing of the whole token.
func tokenSlot(tok string) uint64 {
	tail := tok[max(len(tok)-8, 0):]
	var k uint64
	if len(tok) < 8 {
		k = uint64(len(tok)) << 56
	}
	for i := 0; i < len(tail); i++ {
		k |= uint64(tail[i]) << (8 * i)
	}
	return k
}

// Get returns the cached session of tok: the entry itself, which the caller
// may update (revocation.State.Admits remembers its answer there).
func (c *Sessions) Get(tok string) (*Session, bool) { return c.get(tokenSlot(tok), tok) }

// Put remembers a verified token.
func (c *Sessions) Put(tok string, s Session) { c.put(tokenSlot(tok), tok, s) }

// Clear forgets every session.
func (c *Sessions) Clear() { c.clear() }
