package throttle

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBurstThenRefill(t *testing.T) {
	l := New[string](Config{Burst: 3, Refill: 10 * time.Second}, nil)
	for i := range 3 {
		if _, blocked := l.Blocked("k", t0); blocked {
			t.Fatalf("blocked before failure %d of a burst of 3", i+1)
		}
		l.Fail("k", t0)
	}
	wait, blocked := l.Blocked("k", t0)
	if !blocked || wait != 10*time.Second {
		t.Fatalf("after 3 failures: blocked %v, wait %v; want blocked for 10s", blocked, wait)
	}
	if wait, blocked := l.Blocked("k", t0.Add(4*time.Second)); !blocked || wait != 6*time.Second {
		t.Fatalf("4 s later: blocked %v, wait %v; want 6s", blocked, wait)
	}
	if _, blocked := l.Blocked("k", t0.Add(10*time.Second)); blocked {
		t.Fatal("still blocked after one refill")
	}
	// One failure leaked out: one more is allowed, then blocked again.
	l.Fail("k", t0.Add(10*time.Second))
	if _, blocked := l.Blocked("k", t0.Add(10*time.Second)); !blocked {
		t.Fatal("not blocked after using the refilled failure")
	}
	if _, blocked := l.Blocked("other", t0); blocked {
		t.Fatal("a key without failures is blocked")
	}
}

// TestFailWhileBlockedDoesNotExtend: the level never exceeds the burst, so
// an attacker who keeps trying waits one refill, not longer and longer (and
// a legitimate client behind the same address recovers as quickly).
func TestFailWhileBlockedDoesNotExtend(t *testing.T) {
	l := New[string](Config{Burst: 2, Refill: time.Second}, nil)
	for range 50 {
		l.Fail("k", t0)
	}
	if wait, blocked := l.Blocked("k", t0); !blocked || wait != time.Second {
		t.Fatalf("blocked %v wait %v, want 1s", blocked, wait)
	}
}

// TestBoundedKeys: a flood of distinct keys keeps at most MaxKeys, and the
// key that keeps failing stays blocked through it.
func TestBoundedKeys(t *testing.T) {
	l := New[string](Config{Burst: 1, Refill: time.Hour, MaxKeys: 100}, nil)
	for i := range 10_000 {
		l.Fail(fmt.Sprint("random-", i), t0)
		l.Fail("attacker", t0)
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("%d keys kept, want 100", n)
	}
	if _, blocked := l.Blocked("attacker", t0); !blocked {
		t.Fatal("the key failing all along was evicted")
	}
}

func TestCloneOnlyNewKeys(t *testing.T) {
	clones := 0
	l := New[string](Config{}, func(k string) string { clones++; return k })
	l.Fail("a", t0)
	l.Fail("a", t0)
	l.Blocked("a", t0)
	if clones != 1 {
		t.Fatalf("%d clones, want 1 (the first failure)", clones)
	}
	r := NewRecent[string](10, time.Minute, func(k string) string { clones++; return k })
	r.Seen("p", t0)
	r.Seen("p", t0.Add(time.Second))
	if clones != 2 {
		t.Fatalf("%d clones, want 2", clones)
	}
}

func TestRecentExpires(t *testing.T) {
	r := NewRecent[string](2, time.Minute, nil)
	r.Seen("a", t0)
	if !r.Has("a", t0.Add(59*time.Second)) {
		t.Fatal("forgotten within its time to live")
	}
	if r.Has("a", t0.Add(time.Minute)) {
		t.Fatal("remembered after its time to live")
	}
	r.Seen("a", t0.Add(time.Minute))
	if !r.Has("a", t0.Add(90*time.Second)) {
		t.Fatal("seeing it again did not extend it")
	}
	r.Seen("b", t0)
	r.Seen("c", t0)
	if r.Has("a", t0) {
		t.Fatal("more keys than the size kept")
	}
}

func BenchmarkBlockedNoFailures(b *testing.B) {
	l := New[string](Config{}, nil)
	for i := range 1000 {
		l.Fail(fmt.Sprint("k", i), t0)
	}
	for b.Loop() {
		l.Blocked("legit-client", t0)
	}
}
