package plugin

import (
	"encoding/binary"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

var requestTimeProperty = []string{"request", "time"}

// hostRequestTime returns the host's request.time attribute in Unix seconds:
// 8 bytes, little-endian Unix nanoseconds, as Envoy serialises timestamps.
// ok is false when the host has none (outside a request in Envoy).
func hostRequestTime() (int64, bool) {
	if b, err := proxywasm.GetProperty(requestTimeProperty); err == nil && len(b) == 8 {
		return int64(binary.LittleEndian.Uint64(b)) / int64(time.Second), true
	}
	return 0, false
}

// clock is the plugin's idea of the current time.
//
// In Envoy the module's WASI clock is the real clock, and reading it (wallMS:
// one host call, no allocation) is right and cheap. A host may instead give a
// Go-built module a fake WASI clock: wazero's default, which the SDK's
// emulator (and so the dev proxy and the tests) uses, reads 2022-01-01 and
// advances 1 ms per reading. The clock therefore checks the WASI clock
// against the host's request.time attribute (read on the first request, on
// every request that needs a signature check or an exchange, and every
// recheck-th cached request) and, while they agree within 2 s, uses the WASI
// clock ("trusted"). Otherwise it keeps an estimate: the latest trusted
// observation (request.time, or the issuer's Date header and generated_at in
// sync answers), advanced by the tick period on every tick, never moving
// backwards. Ticks have no request, so the estimate is what signs sync
// requests and ages the last successful sync on a fake clock. An estimate
// lags real time by at most about one tick period while ticks run (and by
// `recheckUntrusted` cached requests when they do not), which only matters on
// the emulator: the dev proxy is a test harness.
type clock struct {
	calibrated bool
	trusted    bool
	sinceCheck int   // cached-path readings since request.time was last read
	estMS      int64 // the estimate, Unix milliseconds; 0: none yet
}

const (
	trustedSkewSeconds = 2
	recheckTrusted     = 4096
	recheckUntrusted   = 32
)

// observe takes a trusted reading of the current time (Unix seconds).
func (c *clock) observe(sec int64) {
	if ms := sec * 1000; ms > c.estMS {
		c.estMS = ms
	}
}

// calibrate takes the host's request time, decides whether the WASI clock
// can be trusted, and returns the request time.
func (c *clock) calibrate(reqSec int64) int64 {
	d := wallMS()/1000 - reqSec
	c.trusted = d >= -trustedSkewSeconds && d <= trustedSkewSeconds
	c.calibrated = true
	c.sinceCheck = 0
	c.observe(reqSec)
	return reqSec
}

// exact returns the request time from the host and calibrates with it (one
// host call): for the paths that verify a signature or call the issuer.
func (c *clock) exact() int64 {
	if t, ok := hostRequestTime(); ok {
		return c.calibrate(t)
	}
	c.calibrated, c.trusted = true, true // a host without request.time: only the WASI clock is left
	return wallMS() / 1000
}

// request returns the current time for a request on the cached path, given
// the request's one reading of the wall clock (wallMS): no further host
// call, except the periodic recheck.
func (c *clock) request(wall int64) int64 {
	c.sinceCheck++
	limit := recheckUntrusted
	if c.trusted {
		limit = recheckTrusted
	}
	if !c.calibrated || c.sinceCheck >= limit {
		return c.exact()
	}
	return c.at(wall)
}

// now returns the best estimate of the current time, Unix seconds.
func (c *clock) now() int64 { return c.at(wallMS()) }

// at is now given a reading of the wall clock.
func (c *clock) at(wall int64) int64 {
	if c.trusted || c.estMS == 0 { // an untrusted clock with no estimate yet: nothing better
		return wall / 1000
	}
	return c.estMS / 1000
}

// nowMS is now in milliseconds, for durations (callout latency); ok is false
// when the WASI clock is not trusted, as its readings then say nothing about
// elapsed time.
func (c *clock) nowMS() (int64, bool) { return c.trustedMS(wallMS()) }

// trustedMS is nowMS given a reading of the wall clock.
func (c *clock) trustedMS(wall int64) (int64, bool) {
	if !c.trusted {
		return 0, false
	}
	return wall, true
}

// tick advances the estimate by one tick period and, where the host exposes
// a request time outside requests (the emulator does: its properties are
// global), takes it as an observation.
func (c *clock) tick(periodMS uint32) {
	if c.estMS > 0 {
		c.estMS += int64(periodMS)
	}
	if t, ok := hostRequestTime(); ok {
		if c.trusted {
			d := wallMS()/1000 - t
			if d < -trustedSkewSeconds {
				c.trusted = false // the host says it is later than the WASI clock thinks
			}
		}
		c.observe(t)
	}
}

// httpDateLayout is the HTTP Date header's IMF-fixdate (RFC 9110 §5.6.7);
// net/http is not used in the module, which it would make much larger.
const httpDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// observeHTTPDate takes an HTTP Date header (the issuer's clock).
func (c *clock) observeHTTPDate(v string) {
	if v == "" {
		return
	}
	if t, err := time.Parse(httpDateLayout, v); err == nil {
		c.observe(t.Unix())
	}
}
