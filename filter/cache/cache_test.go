package cache

import (
	"strconv"
	"strings"
	"testing"
)

const (
	testClientID = "0123456789abcdef0123456789abcdef.access"
	testSecret   = "secret-one-0123456789abcdef0123456789abcdef0123456789abcdef"
	otherSecret  = "secret-two-0123456789abcdef0123456789abcdef0123456789abcdef"
)

// TestSessionCacheExactMatch: the cache's map slot comes from a token's last
// bytes, so tokens that share them must still be told apart by their whole
// text: a forged token with a cached token's signature tail is a miss, cannot
// remove the cached one, and a second verified token in the same slot
// replaces the first rather than answering for it.
func TestSessionCacheExactMatch(t *testing.T) {
	c := NewSessions(16)
	valid := "header.payload-of-alice.SIGNATURE-tail-12345678"
	forged := "header.payload-of-mallory.SIGNATURE-tail-12345678"
	if tokenSlot(valid) != tokenSlot(forged) {
		t.Fatal("test tokens should share a slot")
	}
	c.Put(valid, Session{Exp: 1, TokenID: "alice"})
	if _, ok := c.Get(forged); ok {
		t.Fatal("a token sharing the slot was found")
	}
	c.remove(tokenSlot(forged), forged)
	if s, ok := c.Get(valid); !ok || s.TokenID != "alice" {
		t.Fatalf("cached token lost after removing another in its slot: %+v %v", s, ok)
	}
	c.Put(forged, Session{Exp: 2, TokenID: "other"})
	if _, ok := c.Get(valid); ok {
		t.Fatal("the replaced token still answers")
	}
	if s, ok := c.Get(forged); !ok || s.TokenID != "other" {
		t.Fatalf("newer token in the slot: %+v %v", s, ok)
	}
	if c.len() != 1 {
		t.Fatalf("%d entries, want 1", c.len())
	}
	for _, short := range []string{"", "a", "ab"} { // short tokens: the length is part of the slot
		c.Put(short, Session{TokenID: short})
	}
	for _, short := range []string{"", "a", "ab"} {
		if s, ok := c.Get(short); !ok || s.TokenID != short {
			t.Fatalf("short token %q: %+v %v", short, s, ok)
		}
	}
}

// TestCredentialCacheChecksClientID: the credential cache's hash is of the
// secret alone, so the same secret under another client id has the same
// hash; it is a miss, and removes nothing.
func TestCredentialCacheChecksClientID(t *testing.T) {
	c := NewCredentials(16)
	k := Hasher{k0: 1, k1: 2}.Key(testClientID, testSecret)
	e := &CredEntry{JWT: "j"}
	c.Put(k, e)
	if got, ok := c.Get(k); !ok || got != e {
		t.Fatal("cached pair not found")
	}
	other := k
	other.ID = "fedcba9876543210fedcba9876543210.access"
	if _, ok := c.Get(other); ok {
		t.Fatal("found under another client id")
	}
	c.Remove(other)
	if _, ok := c.Get(k); !ok {
		t.Fatal("removed by another client id")
	}
	c.Remove(k)
	if _, ok := c.Get(k); ok || c.len() != 0 {
		t.Fatal("not removed")
	}
}

// TestExactCacheRemoveThenPut: a removed entry keeps its place in the ring
// (a tombstone), so putting it back and filling the cache evicts nothing
// early and counts right: map and ring never disagree.
func TestExactCacheRemoveThenPut(t *testing.T) {
	c := NewSessions(16)
	c.Put("tok-a", Session{TokenID: "a"})
	c.remove(tokenSlot("tok-a"), "tok-a")
	if _, ok := c.Get("tok-a"); ok || c.len() != 0 {
		t.Fatalf("removed entry found (len %d)", c.len())
	}
	c.Put("tok-a", Session{TokenID: "a"})
	for i := range 15 {
		c.Put("tok-"+strconv.Itoa(i), Session{})
	}
	if s, ok := c.Get("tok-a"); !ok || s.TokenID != "a" || c.len() != 16 {
		t.Fatalf("after remove, put and 15 more puts into 16 places: found %v, len %d", ok, c.len())
	}
	c.Put("tok-next", Session{}) // the oldest insertion goes: tok-a's
	if _, ok := c.Get("tok-a"); ok || c.len() != 16 {
		t.Fatalf("oldest entry kept (len %d)", c.len())
	}
	c.remove(tokenSlot("tok-3"), "tok-3")
	for i := range 20 { // tombstones are evicted in their turn and leave the count right
		c.Put("more-"+strconv.Itoa(i), Session{})
		if c.len() > 16 {
			t.Fatalf("%d live entries in 16 places", c.len())
		}
	}
	if c.len() != 16 {
		t.Fatalf("%d live entries after 20 more puts, want 16", c.len())
	}
	for i := 4; i < 20; i++ { // the newest 16 insertions are the ones kept
		if _, ok := c.Get("more-" + strconv.Itoa(i)); !ok {
			t.Fatalf("more-%d evicted before older entries", i)
		}
	}
}

// TestCredentialCacheWholeHash: the slot is half of the secret's hash, and an
// entry is found, or removed, only when the other half and the client id
// match too.
func TestCredentialCacheWholeHash(t *testing.T) {
	c := NewCredentials(8)
	k := CredKey{ID: testClientID, h0: 1, h1: 2}
	e := &CredEntry{JWT: "jwt"}
	c.Put(k, e)
	if got, ok := c.Get(k); !ok || got != e {
		t.Fatalf("get(k) = %v, %v", got, ok)
	}
	for _, other := range []CredKey{
		{ID: testClientID, h0: 1, h1: 3},       // another secret, the same slot
		{ID: testClientID + "x", h0: 1, h1: 2}, // another client id
		{ID: testClientID, h0: 9, h1: 2},       // another slot
	} {
		if got, ok := c.Get(other); ok {
			t.Errorf("get(%+v) = %v: found another pair's entry", other, got)
		}
		c.Remove(other)
		if got, ok := c.Get(k); !ok || got != e {
			t.Errorf("remove(%+v) removed the entry of %+v", other, k)
		}
	}
}

func TestCredentialEntryEncoding(t *testing.T) {
	h := Hasher{k0: 1, k1: 2}
	k := h.Key(testClientID, testSecret)
	e := &CredEntry{JWT: "a.b.c", KID: "k1", Info: Session{Exp: 10, NBF: 5, IAT: 5, TokenID: "tok-1"}}
	v := EncodeShared(k, e)
	if strings.Contains(string(v), testSecret) {
		t.Fatalf("entry %q holds the secret", v)
	}
	got, ok := DecodeShared(v, k)
	if !ok || *got != *e {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for _, other := range []CredKey{
		h.Key(testClientID, otherSecret),
		h.Key("fedcba9876543210fedcba9876543210.access", testSecret),
		Hasher{k0: 3, k1: 4}.Key(testClientID, testSecret),
	} {
		if _, ok := DecodeShared(v, other); ok {
			t.Fatalf("entry matched another credential %+v", other)
		}
	}
}

func TestSessionCacheBounded(t *testing.T) {
	c := NewSessions(16)
	for i := 0; i < 100; i++ {
		c.Put("tok-"+strconv.Itoa(i), Session{Exp: int64(i)})
		if c.len() > 16 {
			t.Fatalf("%d entries after %d puts", c.len(), i+1)
		}
	}
	if _, ok := c.Get("tok-99"); !ok {
		t.Fatal("newest entry evicted")
	}
	if _, ok := c.Get("tok-0"); ok {
		t.Fatal("oldest entry kept")
	}
	cc := NewCredentials(16)
	h := Hasher{k0: 1, k1: 2}
	for i := 0; i < 100; i++ {
		cc.Put(h.Key(testClientID, strconv.Itoa(i)), &CredEntry{})
	}
	if cc.len() != 16 {
		t.Fatalf("credential cache holds %d", cc.len())
	}
}

// len counts the entries that are not tombstones (it walks them: tests only).
func (c *exact[K, V]) len() int {
	n := 0
	for _, e := range c.entries {
		if !e.removed {
			n++
		}
	}
	return n
}

// TestKeyCopiesNoSecret: hashing a secret allocates nothing, so no copy of
// it is left in the module's heap (rawmem.Bytes).
func TestKeyCopiesNoSecret(t *testing.T) {
	h := NewHasher(make([]byte, 32), "aud")
	secret := testSecret + testSecret // longer than the compiler's 32-byte stack buffer
	if n := testing.AllocsPerRun(100, func() { _ = h.Key(testClientID, secret) }); n != 0 {
		t.Fatalf("Key allocates %v times per call", n)
	}
}
