// Package throttle limits failed authentication attempts per key (a client
// id, a source address) in bounded memory.
//
// Each key has a leaky bucket of failures: Burst failures are allowed at
// once, and one more every Refill after that. A key whose bucket is full is
// blocked until one failure has leaked out. Only failures are charged: a
// key nobody fails with costs nothing, and a lookup on the success path is
// one map read. Keys live in an LRU of at most MaxKeys entries, so a flood
// of distinct keys (random client ids) evicts the least recently failing
// ones instead of growing memory; a key that keeps failing stays.
package throttle

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults: 10 failures at once, then one every 6 s (10 a minute), for up
// to 100,000 keys per limiter (about 10 MB).
const (
	DefaultBurst   = 10
	DefaultRefill  = 6 * time.Second
	DefaultMaxKeys = 100_000
)

// Config sets a Limiter; zero fields take the defaults.
type Config struct {
	Burst   int
	Refill  time.Duration
	MaxKeys int
}

func (c Config) withDefaults() Config {
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.Refill <= 0 {
		c.Refill = DefaultRefill
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	return c
}

// Limiter is safe for concurrent use.
type Limiter[K comparable] struct {
	burst  float64
	refill time.Duration
	clone  func(K) K

	mu   sync.Mutex
	keys *simplelru.LRU[K, *bucket]
}

// bucket is a key's failures: level at the time at, leaking one per refill.
type bucket struct {
	level float64
	at    time.Time
}

func (b *bucket) levelAt(now time.Time, refill time.Duration) float64 {
	leaked := float64(now.Sub(b.at)) / float64(refill)
	if leaked <= 0 {
		return b.level
	}
	return max(b.level-leaked, 0)
}

// New returns a Limiter with cfg (defaults for its zero fields). clone
// copies a key before the Limiter keeps it (keys may point into a request's
// buffers); nil keeps keys as given.
func New[K comparable](cfg Config, clone func(K) K) *Limiter[K] {
	cfg = cfg.withDefaults()
	keys, err := simplelru.NewLRU[K, *bucket](cfg.MaxKeys, nil)
	if err != nil {
		panic(err) // only for a size <= 0, which withDefaults rules out
	}
	return &Limiter[K]{burst: float64(cfg.Burst), refill: cfg.Refill, clone: orSame(clone), keys: keys}
}

// Blocked reports whether key may not fail once more at now, and if so how
// long until it may.
func (l *Limiter[K]) Blocked(key K, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys.Peek(key) // no reordering: a lookup is not a failure
	if !ok {
		return 0, false
	}
	over := b.levelAt(now, l.refill) - (l.burst - 1)
	if over <= 0 {
		return 0, false
	}
	return time.Duration(over * float64(l.refill)), true
}

// Fail charges one failure to key at now.
func (l *Limiter[K]) Fail(key K, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys.Get(key)
	if !ok {
		l.keys.Add(l.clone(key), &bucket{level: 1, at: now})
		return
	}
	// A bucket never holds more than burst: blocked attempts are refused
	// before they are tried, and an attacker's wait is at most one refill.
	b.level, b.at = min(b.levelAt(now, l.refill)+1, l.burst), now
}

// Len is the number of keys remembered.
func (l *Limiter[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

// Recent remembers keys seen within a time to live, in an LRU of bounded
// size: the pairs of client id and source that recently succeeded, which a
// flood of failures against that client id from elsewhere must not lock
// out.
type Recent[K comparable] struct {
	ttl   time.Duration
	clone func(K) K

	mu   sync.Mutex
	keys *simplelru.LRU[K, time.Time]
}

// NewRecent returns a Recent of at most size keys, each forgotten ttl after
// it was last seen; clone is as for New.
func NewRecent[K comparable](size int, ttl time.Duration, clone func(K) K) *Recent[K] {
	keys, err := simplelru.NewLRU[K, time.Time](max(size, 1), nil)
	if err != nil {
		panic(err)
	}
	return &Recent[K]{ttl: ttl, clone: orSame(clone), keys: keys}
}

// Seen records key at now.
func (r *Recent[K]) Seen(key K, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys.Get(key); ok {
		r.keys.Add(key, now) // updates in place, keeping the stored key
		return
	}
	r.keys.Add(r.clone(key), now)
}

// Has reports whether key was seen within the time to live before now.
func (r *Recent[K]) Has(key K, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.keys.Peek(key)
	return ok && now.Sub(at) < r.ttl
}

func orSame[K any](clone func(K) K) func(K) K {
	if clone == nil {
		return func(k K) K { return k }
	}
	return clone
}
