package plugin

import "runtime"

// gcEveryStreams is how many finished HTTP streams pass between explicit
// collections.
//
// A Go-built module stops the world to collect, and Go's pacer starts a
// collection whenever the heap outgrows its target, which can be in the middle
// of a request. Instead the filter collects after a stream has finished, when
// nobody waits for it. runtime.ReadMemStats would say exactly when, but it
// stops the world itself and costs more than the request path, so a counter
// stands in for it: a request allocates a few KiB, so 256 streams stay well
// under the pacer's 4 MiB minimum target, and the pacer (left at its default
// GOGC as a safety net) rarely fires inside a request. Natively (tests and
// benchmarks) the Go runtime manages itself and this does nothing.
const gcEveryStreams = 256

type gcPacer struct{ streams int }

func (g *gcPacer) streamDone() {
	if runtime.GOOS != "wasip1" {
		return
	}
	g.streams++
	if g.streams >= gcEveryStreams {
		g.streams = 0
		runtime.GC()
	}
}
