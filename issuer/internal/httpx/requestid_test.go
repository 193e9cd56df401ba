package httpx

import (
	"encoding/hex"
	"testing"

	"github.com/svcauth/svcauth/filter/race"
)

// TestRandomHex: n bytes give 2n hex digits, two calls of 12 bytes or more
// differ, and the one allocation is the string (the exchange makes a jti per
// session).
func TestRandomHex(t *testing.T) {
	for _, n := range []int{1, 12, 16} {
		a, b := RandomHex(n), RandomHex(n)
		if len(a) != 2*n || len(b) != 2*n || (n >= 12 && a == b) {
			t.Fatalf("RandomHex(%d) = %q, %q", n, a, b)
		}
		if _, err := hex.DecodeString(a); err != nil {
			t.Fatalf("RandomHex(%d) = %q: %v", n, a, err)
		}
	}
	if id := NewRequestID(); len(id) != 24 {
		t.Fatalf("NewRequestID() = %q, want 24 hex digits", id)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = RandomHex(16) }); allocs != 1 && !race.Enabled {
		t.Fatalf("RandomHex allocates %v times, want 1", allocs)
	}
}
