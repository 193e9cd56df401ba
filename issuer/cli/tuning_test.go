package cli

import "testing"

func TestServeProcs(t *testing.T) {
	for _, tc := range []struct {
		env                   string
		current, numCPU, want int
	}{
		{"", 2, 2, 4},  // no choice, no quota: two per CPU
		{"", 8, 8, 16}, // the same on a larger machine
		{"3", 3, 2, 3}, // the operator's choice stays
		{"", 2, 16, 2}, // a quota lowered the default: it stays
		{"", 1, 1, 2},  // one CPU
	} {
		if got := serveProcs(tc.env, tc.current, tc.numCPU); got != tc.want {
			t.Errorf("serveProcs(%q, %d, %d) = %d, want %d", tc.env, tc.current, tc.numCPU, got, tc.want)
		}
	}
}
