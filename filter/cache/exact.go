package cache

import (
	"strings"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// exact is a bounded map from a cheap slot (a few words, fast to hash inside
// wasm) to a value kept with the exact text it was stored under: an entry is
// found, replaced or removed only by that text (compared in constant time),
// whatever else maps to its slot. Past max entries the oldest insertion is
// evicted (FIFO through a ring of slots), which needs no per-hit
// bookkeeping. A removed entry stays in its slot as a tombstone until its
// turn in the ring comes (or a put revives it), so that map and ring always
// hold the same slots: deleting it would leave its ring position to evict
// whatever later takes the slot. Its memory grows with use, so that an idle
// VM's heap (which every collection scans) stays small.
type exact[K comparable, V any] struct {
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

func newExact[K comparable, V any](max int) exact[K, V] {
	return exact[K, V]{max: max, entries: map[K]*exactEntry[V]{}}
}

// get returns the value stored under text, in place.
func (c *exact[K, V]) get(slot K, text string) (*V, bool) {
	e, ok := c.entries[slot]
	if !ok || e.removed || !rawmem.SameText(e.text, text) {
		return nil, false
	}
	return &e.val, true
}

// put stores v under text, taking slot from whatever held it. text is
// copied: callers pass substrings of whole header values, which must not be
// kept alive by the cache.
func (c *exact[K, V]) put(slot K, text string, v V) {
	if e, ok := c.entries[slot]; ok {
		if !rawmem.SameText(e.text, text) {
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
func (c *exact[K, V]) remove(slot K, text string) {
	if e, ok := c.entries[slot]; ok && !e.removed && rawmem.SameText(e.text, text) {
		var zero V
		e.val, e.removed = zero, true // the value (a session, a JWT) need not stay alive
	}
}

func (c *exact[K, V]) clear() { *c = newExact[K, V](c.max) }
