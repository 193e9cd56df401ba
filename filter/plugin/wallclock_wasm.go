//go:build wasip1

package plugin

// clockTimeGet is WASI's clock_time_get. time.Now() inside the module makes
// two host calls (the wall clock and the monotonic clock); the filter only
// needs the wall clock, and reads it once per request: one host call.
//
//go:wasmimport wasi_snapshot_preview1 clock_time_get
//go:noescape
func clockTimeGet(id uint32, precision uint64, t *uint64) uint32

const wasiClockRealtime = 0

// wallMS returns the module's wall clock in Unix milliseconds (the host's
// real clock in Envoy; see clock.go for hosts that fake it).
func wallMS() int64 {
	var ns uint64
	if clockTimeGet(wasiClockRealtime, 1_000_000, &ns) != 0 {
		return 0
	}
	return int64(ns / 1_000_000)
}
