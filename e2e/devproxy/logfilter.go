package devproxy

import (
	"bytes"
	"io"
	"log"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// The proxytest emulator reports through the standard log package:
//
//	proxy_<level>_log: <message>          the plugin's own logs
//	[http callout to C] timeout: N         one line per dispatch_http_call …
//	[http callout to C] headers: …         … then its headers,
//	[http callout to C] body: …            … its body (the client secret!)
//	[http callout to C] trailers: …        … and its trailers
//	[foreign call] funcname / param: …     foreign function calls
//
// While a Proxy is open, the standard logger writes to a logFilter, which
// drops the callout and foreign-call lines, keeps the dispatch timeouts for
// the proxy (the emulator exposes them nowhere else), and forwards every
// other line — the plugin's logs among them — to the proxy's log.
//
// log.Logger hands each message to Write in one call, so a body containing
// newlines is still one Write and is dropped whole.
type logFilter struct {
	out io.Writer

	mu       sync.Mutex
	timeouts []time.Duration
}

var (
	calloutMarker   = []byte("[http callout to ")
	foreignMarker   = []byte("[foreign call]")
	pluginLogMarker = regexp.MustCompile(`proxy_[a-z]+_log: `)
	// The cluster name cannot contain "]", so a body or header line can
	// never be mistaken for a timeout line.
	timeoutLine = regexp.MustCompile(`^\[http callout to [^\]\n]*\] timeout: (\d+)\n?$`)
)

// installLogFilter redirects the standard logger; restore puts the previous
// writer back.
func installLogFilter(out io.Writer) (f *logFilter, restore func()) {
	f = &logFilter{out: out}
	prev := log.Writer()
	log.SetOutput(f)
	return f, func() { log.SetOutput(prev) }
}

func (f *logFilter) Write(b []byte) (int, error) {
	callout := bytes.Index(b, calloutMarker)
	foreign := bytes.Index(b, foreignMarker)
	plugin := -1
	if loc := pluginLogMarker.FindIndex(b); loc != nil {
		plugin = loc[0]
	}
	// Whichever marker comes first (right after the logger's prefix) says
	// what the line is; a plugin message that quotes a marker stays a
	// plugin message.
	switch first(callout, foreign, plugin) {
	case callout:
		if m := timeoutLine.FindSubmatch(b[callout:]); m != nil {
			if ms, err := strconv.ParseUint(string(m[1]), 10, 32); err == nil {
				f.mu.Lock()
				f.timeouts = append(f.timeouts, time.Duration(ms)*time.Millisecond)
				f.mu.Unlock()
			}
		}
		return len(b), nil
	case foreign:
		return len(b), nil
	}
	if _, err := f.out.Write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// takeTimeouts returns the dispatch timeouts logged since the last call.
func (f *logFilter) takeTimeouts() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.timeouts
	f.timeouts = nil
	return t
}

// first returns the smallest non-negative index, or -2 when there is none.
func first(idx ...int) int {
	best := -2
	for _, i := range idx {
		if i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
