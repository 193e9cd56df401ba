package plugin

import (
	"runtime"
	"runtime/debug"
)

// Garbage collection, following the SDK's guidance (doc/OVERVIEW.md,
// "Performance overhead due to Garbage Collection"): a Go-built module stops
// the world to collect, and Go's pacer starts a collection whenever the heap
// outgrows its target, which can be in the middle of a request. The filter
// therefore collects itself, after a stream has finished (nobody waits for
// it), once the heap has grown by about gcHeadroom since the last collection.
//
// Reading the heap size is not free in wasm (runtime.ReadMemStats stops the
// world; measured, reading it every 32 streams cost more than the whole
// cached request path), so the filter reads it only right after each
// collection: it learns how many bytes a stream allocates on average (the
// growth of TotalAlloc over the streams since the previous collection) and
// schedules the next collection after the number of streams that allocates
// gcHeadroom. The runtime's own pacer stays as a safety net, with GOGC
// raised (OnVMStart) so that it rarely fires first.
//
// Live memory is bounded by the caches (session_cache_size,
// credential_cache_size) and the revocation state, so the heap, and the
// module's linear memory, which never shrinks, stay flat: `make bench` shows
// it over 1,000,000 requests (BenchmarkMemory). After each collection the
// filter records svcauth.vm.heap_live_bytes and svcauth.vm.memory_bytes.
//
// Natively (tests and benchmarks) the Go runtime manages itself and this does
// nothing.
const (
	gcHeadroom      = 8 << 20
	gcFirstInterval = 256
	gcMinInterval   = 64
	gcMaxInterval   = 1 << 16
	gcPercent       = 400
)

// gcSetup raises GOGC in the module (OnVMStart).
func gcSetup() {
	if runtime.GOOS == "wasip1" {
		debug.SetGCPercent(gcPercent)
	}
}

type gcPacer struct {
	streams    int // since the last collection
	interval   int // streams between collections
	totalAlloc uint64
}

// streamDone counts a finished stream and collects when its turn has come.
// It is small enough to be inlined into every stream's end; the collection
// itself is not.
func (g *gcPacer) streamDone(s *stats) {
	if runtime.GOOS != "wasip1" {
		return
	}
	if g.streams++; g.streams >= g.interval {
		g.collect(s)
	}
}

// collect runs a collection and schedules the next one.
func (g *gcPacer) collect(s *stats) {
	if g.interval == 0 { // the first stream: no schedule yet
		g.interval = gcFirstInterval
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if g.totalAlloc > 0 && ms.TotalAlloc > g.totalAlloc {
		perStream := (ms.TotalAlloc - g.totalAlloc) / uint64(g.streams)
		g.interval = gcMaxInterval
		if perStream > 0 {
			g.interval = int(min(max(gcHeadroom/perStream, gcMinInterval), gcMaxInterval))
		}
	}
	g.totalAlloc = ms.TotalAlloc
	g.streams = 0
	if s.defined {
		s.gcRuns.Increment(1)
		setGauge(s.heapLive, int64(ms.HeapAlloc))
		setGauge(s.memory, int64(ms.Sys))
	}
}
