package session

import (
	"strconv"
	"testing"
)

func TestKeyIDRoundTrip(t *testing.T) {
	aud := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, v := range []int{1, 2, 17, 1000} {
		kid := KeyID(aud, v)
		if kid != aud[:12]+".v"+strconv.Itoa(v) || KeyVersion(kid) != int64(v) {
			t.Errorf("KeyID(aud, %d) = %q, KeyVersion = %d", v, kid, KeyVersion(kid))
		}
	}
	for _, kid := range []string{"", "k1", "abc.v", "abc.vx", "abc.v-3"} {
		if n := KeyVersion(kid); n != 0 {
			t.Errorf("KeyVersion(%q) = %d, want 0", kid, n)
		}
	}
}
