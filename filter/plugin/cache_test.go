package plugin

import (
	"strconv"
	"testing"
)

// TestSessionCacheExactMatch: the cache's map slot comes from a token's last
// bytes, so tokens that share them must still be told apart by their whole
// text: a forged token with a cached token's signature tail is a miss, cannot
// remove the cached one, and a second verified token in the same slot
// replaces the first rather than answering for it.
func TestSessionCacheExactMatch(t *testing.T) {
	c := newSessionCache(16)
	valid := "header.payload-of-alice.SIGNATURE-tail-12345678"
	forged := "header.payload-of-mallory.SIGNATURE-tail-12345678"
	if tokenSlot(valid) != tokenSlot(forged) {
		t.Fatal("test tokens should share a slot")
	}
	c.put(valid, sessionInfo{exp: 1, tokenID: "alice"})
	if _, ok := c.get(forged); ok {
		t.Fatal("a token sharing the slot was found")
	}
	c.exactCache.remove(tokenSlot(forged), forged)
	if s, ok := c.get(valid); !ok || s.tokenID != "alice" {
		t.Fatalf("cached token lost after removing another in its slot: %+v %v", s, ok)
	}
	c.put(forged, sessionInfo{exp: 2, tokenID: "other"})
	if _, ok := c.get(valid); ok {
		t.Fatal("the replaced token still answers")
	}
	if s, ok := c.get(forged); !ok || s.tokenID != "other" {
		t.Fatalf("newer token in the slot: %+v %v", s, ok)
	}
	if c.len() != 1 {
		t.Fatalf("%d entries, want 1", c.len())
	}
	for _, short := range []string{"", "a", "ab"} { // short tokens: the length is part of the slot
		c.put(short, sessionInfo{tokenID: short})
	}
	for _, short := range []string{"", "a", "ab"} {
		if s, ok := c.get(short); !ok || s.tokenID != short {
			t.Fatalf("short token %q: %+v %v", short, s, ok)
		}
	}
}

// TestCredentialCacheChecksClientID: the credential cache's hash is of the
// secret alone, so the same secret under another client id has the same
// hash; it is a miss, and removes nothing.
func TestCredentialCacheChecksClientID(t *testing.T) {
	c := newCredentialCache(16)
	k := credHasher{k0: 1, k1: 2}.key(testClientID, testSecret)
	e := &credEntry{jwt: "j"}
	c.put(k, e)
	if got, ok := c.get(k); !ok || got != e {
		t.Fatal("cached pair not found")
	}
	other := k
	other.id = "fedcba9876543210fedcba9876543210.access"
	if _, ok := c.get(other); ok {
		t.Fatal("found under another client id")
	}
	c.remove(other)
	if _, ok := c.get(k); !ok {
		t.Fatal("removed by another client id")
	}
	c.remove(k)
	if _, ok := c.get(k); ok || c.len() != 0 {
		t.Fatal("not removed")
	}
}

// TestAdmitsRemembersPerState: admits skips the lookups only for the state
// that admitted the session; a newly installed state (a new gen) that
// revokes it refuses it, and an uninstalled state (gen 0) is always asked.
func TestAdmitsRemembersPerState(t *testing.T) {
	s := &sessionInfo{iat: 100, exp: 1000, tokenID: "tok-1"}
	first := &revocation{gen: 1}
	if !first.admits(s) || s.admittedBy != 1 {
		t.Fatalf("first state: admitted %v by %d", first.admits(s), s.admittedBy)
	}
	second := &revocation{gen: 2, revoked: map[string]int64{"tok-1": 100}}
	if second.admits(s) {
		t.Fatal("a newer state that revokes the session admitted it")
	}
	third := &revocation{gen: 3, disabled: map[string]struct{}{"tok-1": {}}}
	if third.admits(s) {
		t.Fatal("a newer state that disables the token admitted it")
	}
	uninstalled := &revocation{revoked: map[string]int64{"tok-1": 100}}
	s.admittedBy = 0
	if uninstalled.admits(s) {
		t.Fatal("gen 0 state skipped its lookups")
	}
}

// TestExactCacheRemoveThenPut: a removed entry keeps its place in the ring
// (a tombstone), so putting it back and filling the cache evicts nothing
// early and counts right: map and ring never disagree.
func TestExactCacheRemoveThenPut(t *testing.T) {
	c := newSessionCache(16)
	c.put("tok-a", sessionInfo{tokenID: "a"})
	c.exactCache.remove(tokenSlot("tok-a"), "tok-a")
	if _, ok := c.get("tok-a"); ok || c.len() != 0 {
		t.Fatalf("removed entry found (len %d)", c.len())
	}
	c.put("tok-a", sessionInfo{tokenID: "a"})
	for i := range 15 {
		c.put("tok-"+strconv.Itoa(i), sessionInfo{})
	}
	if s, ok := c.get("tok-a"); !ok || s.tokenID != "a" || c.len() != 16 {
		t.Fatalf("after remove, put and 15 more puts into 16 places: found %v, len %d", ok, c.len())
	}
	c.put("tok-next", sessionInfo{}) // the oldest insertion goes: tok-a's
	if _, ok := c.get("tok-a"); ok || c.len() != 16 {
		t.Fatalf("oldest entry kept (len %d)", c.len())
	}
	c.exactCache.remove(tokenSlot("tok-3"), "tok-3")
	for i := range 20 { // tombstones are evicted in their turn and leave the count right
		c.put("more-"+strconv.Itoa(i), sessionInfo{})
		if c.len() > 16 {
			t.Fatalf("%d live entries in 16 places", c.len())
		}
	}
	if c.len() != 16 {
		t.Fatalf("%d live entries after 20 more puts, want 16", c.len())
	}
	for i := 4; i < 20; i++ { // the newest 16 insertions are the ones kept
		if _, ok := c.get("more-" + strconv.Itoa(i)); !ok {
			t.Fatalf("more-%d evicted before older entries", i)
		}
	}
}

// TestCredentialCacheWholeHash: the slot is half of the secret's hash, and an
// entry is found, or removed, only when the other half and the client id
// match too.
func TestCredentialCacheWholeHash(t *testing.T) {
	c := newCredentialCache(8)
	k := credKey{id: testClientID, h0: 1, h1: 2}
	e := &credEntry{jwt: "jwt"}
	c.put(k, e)
	if got, ok := c.get(k); !ok || got != e {
		t.Fatalf("get(k) = %v, %v", got, ok)
	}
	for _, other := range []credKey{
		{id: testClientID, h0: 1, h1: 3},       // another secret, the same slot
		{id: testClientID + "x", h0: 1, h1: 2}, // another client id
		{id: testClientID, h0: 9, h1: 2},       // another slot
	} {
		if got, ok := c.get(other); ok {
			t.Errorf("get(%+v) = %v: found another pair's entry", other, got)
		}
		c.remove(other)
		if got, ok := c.get(k); !ok || got != e {
			t.Errorf("remove(%+v) removed the entry of %+v", other, k)
		}
	}
}

// len counts the entries that are not tombstones (it walks them: tests only).
func (c *exactCache[K, V]) len() int {
	n := 0
	for _, e := range c.entries {
		if !e.removed {
			n++
		}
	}
	return n
}
