package cli

import (
	"runtime"
	"runtime/debug"
	"testing"
)

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

// TestTuneRuntimeGOGC: serve runs with GOGC=400 unless $GOGC is set, which
// the runtime has then applied itself.
func TestTuneRuntimeGOGC(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	before := debug.SetGCPercent(100)
	t.Cleanup(func() {
		debug.SetGCPercent(before)
		runtime.GOMAXPROCS(procs)
	})
	t.Setenv("GOGC", "")
	tuneRuntime()
	if got := debug.SetGCPercent(123); got != 400 {
		t.Fatalf("GOGC %d with $GOGC unset, want 400", got)
	}
	t.Setenv("GOGC", "123")
	tuneRuntime()
	if got := debug.SetGCPercent(100); got != 123 {
		t.Fatalf("GOGC %d with $GOGC=123, want it left alone", got)
	}
}
