package cli

import (
	"os"
	"runtime"
	"runtime/debug"
)

// tuneRuntime sets the Go runtime's defaults for `svcauth serve`, unless the
// operator set them ($GOGC, $GOMAXPROCS win).
func tuneRuntime() {
	// The issuer's live heap is small (a few MB) while every exchange
	// allocates a few KB: at Go's default GOGC=100 the collector runs many
	// times a second under load, which cost about a third of the exchange
	// throughput on a 2-core machine (svcauth-loadgen). 400 trades a heap
	// of a few tens of MB for a quarter of the collections.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if n := serveProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0), runtime.NumCPU()); n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
}

// serveProcs is the GOMAXPROCS the issuer runs with: two per CPU when the
// operator did not choose and no CPU quota lowered the runtime's default.
//
// Exchanges are short and latency-bound, while the audit writer works in
// bursts of tens of milliseconds (a batch of rows into SQLite). With one P
// per CPU a burst holds a P until the scheduler preempts it (10 ms), and
// the exchanges queue behind it; with two, the kernel time-slices the
// threads much more finely. Measured with svcauth-loadgen at 64 clients on
// the 2-core development machine: p99 about 20 ms with 2 Ps, 12.6-15 ms
// with 3 to 8, at equal or higher throughput (docs/performance.md).
//
// Under a CPU quota (a container limit: Go's default is then below the
// CPUs it may run on) more Ps than the quota would let the process burst
// past it and be throttled for the rest of the period, which is worse for
// the tail: the runtime's default stays.
func serveProcs(env string, current, numCPU int) int {
	if env != "" || current != numCPU {
		return current
	}
	return 2 * numCPU
}
