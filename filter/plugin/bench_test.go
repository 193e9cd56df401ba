//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"context"
	"io"
	"log"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero/api"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
	"github.com/svcauth/svcauth/filter/session"
)

// The benchmarks time one request: its header phase and its end, natively
// and on the compiled module, on two hosts:
//
//   - "go" and "wasm": the SDK's emulator (proxytest), natively and with the
//     module under wazero. Its host calls go through reflection and a native
//     emulation of the host: several microseconds each.
//   - "wasm-direct": the module under wazero with filter/internal/wasmhost, a
//     minimal host whose ABI functions are plain Go functions over the
//     module's memory (as a C++ host's are), with real WASI clocks (as
//     Envoy's), driving every callback Envoy makes for a stream. This is the
//     closer measure of what a request costs the module inside Envoy.
//
// Baseline runs a filter that reads one header and does nothing else, so
// (benchmark - Baseline) on the same host is svcauth's own cost. Allocations
// counted are the host's (for the wasm runs the module's own heap is
// invisible to the Go benchmark).
//
//	go test -run '^$' -bench . -benchmem ./filter/plugin
//
// BenchmarkMemory sends 1,000,000 requests to one VM and reports the module's
// heap and linear memory after warm-up and at the end; it runs only with
// SVCAUTH_BENCH_MEMORY=1 (make bench sets it), as it takes about a minute.

// (a) a cookie seen before: the session cache.
func BenchmarkCachedCookie(b *testing.B) {
	headers := benchHeaders("cookie", "_ga=GA1.1.1; CF_Authorization="+sign(b, testKey, nil)+"; theme=dark")
	benchVMs(b, testConfig(), func(b *testing.B, host requestHost) [][2]string {
		host.send(b, headers, types.ActionContinue) // first sight: verified, then cached
		return headers
	}, types.ActionContinue)
}

// (a) for an RS256 application: the cache makes the signature algorithm
// irrelevant once a session has been verified.
func BenchmarkCachedCookieRS256(b *testing.B) {
	headers := benchHeaders("cookie", "_ga=GA1.1.1; CF_Authorization="+signRSA(b, 0, rsaKID, nil)+"; theme=dark")
	benchVMs(b, rsaConfig(), func(b *testing.B, host requestHost) [][2]string {
		host.send(b, headers, types.ActionContinue) // first sight: verified, then cached
		return headers
	}, types.ActionContinue)
}

// (b) a valid cookie never seen before: the HMAC check. Tokens differ by jti
// and the cache holds 16, so every request misses.
func BenchmarkNewCookie(b *testing.B) {
	benchNewCookies(b, testConfig("session_cache_size", 16), func(i int) string {
		return sign(b, testKey, func(c *session.Claims) { c.ID = "jti-" + strconv.Itoa(i) })
	})
}

// (b) for an RS256 application: the first verification of a session in a
// VM is an RSA-2048 PKCS #1 v1.5 check with the public key.
func BenchmarkNewCookieRS256(b *testing.B) {
	benchNewCookies(b, rsaConfig("session_cache_size", 16), func(i int) string {
		return signRSA(b, 0, rsaKID, func(c *session.Claims) { c.ID = "jti-" + strconv.Itoa(i) })
	})
}

// benchNewCookies sends cookies of 512 sessions made by token in turn, on
// every filter target: with a cache of 16, every request misses.
func benchNewCookies(b *testing.B, cfg string, token func(i int) string) {
	const pool = 512
	var tokens [pool][][2]string
	for i := range tokens {
		tokens[i] = benchHeaders("cookie", "_ga=GA1.1.1; CF_Authorization="+token(i)+"; theme=dark")
	}
	for _, t := range filterTargets() {
		b.Run(t.name, func(b *testing.B) {
			host := t.host(b, cfg)
			b.ReportAllocs()
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				host.send(b, tokens[i%pool], types.ActionContinue)
				i++
			}
			reportCPU(b, cpu, i)
		})
	}
}

// (c) a header pair seen before: the credential cache.
func BenchmarkCachedHeaderPair(b *testing.B) {
	headers := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)
	benchVMs(b, exchangeConfig, func(b *testing.B, host requestHost) [][2]string {
		host.exchange(b, headers, sign(b, testKey, nil))
		return headers
	}, types.ActionContinue)
}

// (d) a 401: no credentials at all.
func BenchmarkNoCredentials(b *testing.B) {
	benchVMs(b, testConfig(), constHeaders(benchHeaders()), types.ActionPause)
}

// (d') a 401 without a callout: a secret whose checksum is wrong.
func BenchmarkMalformedSecret(b *testing.B) {
	headers := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", mistyped(testSecret))
	benchVMs(b, testConfig(), constHeaders(headers), types.ActionPause)
}

func BenchmarkBaseline(b *testing.B) {
	headers := benchHeaders("cookie", "CF_Authorization="+sign(b, testKey, nil))
	for _, t := range targets(func() types.VMContext { return &noopVM{} }, noopModule) {
		b.Run(t.name, func(b *testing.B) { benchRequests(b, t.host(b, ""), constHeaders(headers), types.ActionContinue) })
	}
}

// BaselineHostCall is Baseline plus one host call per request (a read of an
// absent header): the difference is what one host call costs on each host.
// Under the SDK's emulator it is several microseconds (host functions are
// dispatched by reflection), which dominates the cached paths there.
func BenchmarkBaselineHostCall(b *testing.B) {
	headers := benchHeaders("cookie", "CF_Authorization="+sign(b, testKey, nil))
	for _, t := range targets(nil, noopModule) {
		b.Run(t.name, func(b *testing.B) {
			benchRequests(b, t.host(b, "extra-host-call"), constHeaders(headers), types.ActionContinue)
		})
	}
}

// BaselineSameIO is Baseline making the host calls svcauth makes on a cached
// request, and nothing else (testdata/noop, "same-io"): the headers of (a)
// or (c), all read in place, one clock reading, the assertion set (and for
// (c) the secret removed). (a) and (c) minus this are svcauth's auth logic
// proper: parsing, cache lookups, expiry and revocation checks.
func BenchmarkBaselineSameIO(b *testing.B) {
	for _, io := range sameIOCases(sign(b, testKey, nil)) {
		b.Run(io.name, func(b *testing.B) {
			for _, t := range targets(nil, noopModule) {
				b.Run(t.name, func(b *testing.B) {
					benchRequests(b, t.host(b, io.config), constHeaders(io.headers), types.ActionContinue)
				})
			}
		})
	}
}

// sameIOCase is a cached request of (a) or (c) with the same-io no-op's
// configuration for it.
type sameIOCase struct {
	name, config string // config: the no-op's
	headers      [][2]string
}

// sameIOCases are (a), a cookie holding jwt, and (c), the header pair.
func sameIOCases(jwt string) [2]sameIOCase {
	io := "same-io assertion=" + strconv.Itoa(len(jwt))
	return [2]sameIOCase{
		{"cookie", io, benchHeaders("cookie", "_ga=GA1.1.1; CF_Authorization="+jwt+"; theme=dark")},
		{"pair", io + " remove=cf-access-client-secret",
			benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)},
	}
}

// BenchmarkAboveNoop measures what the target is about, svcauth's
// cost per request above a no-op plugin, for (a) and (c) on the direct host,
// with the three plugins in one process: svcauth, Baseline and
// BaselineSameIO take turns in blocks of 500 requests, and every request is
// timed alone. It reports each plugin's median request and the differences
// of the medians (above-baseline-ns, above-sameio-ns). The rows above come
// from separate runs, minutes apart on a machine whose speed drifts by more
// than these differences; turns within one run see the same machine, and
// medians are not moved by the host's collections or a descheduled thread.
// Turns keep each module's code and data as warm as in the rows above.
func BenchmarkAboveNoop(b *testing.B) {
	for _, tc := range aboveNoopCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			svcauth := newDirectHost(b, filterModule.binary(b), tc.config)
			tc.warm(b, svcauth, tc.io.headers)
			hosts := []directHost{svcauth, newDirectHost(b, noopModule.binary(b), ""), newDirectHost(b, noopModule.binary(b), tc.io.config)}
			med := medianTurns(b, hosts, tc.io.headers)
			if med == nil {
				return
			}
			b.ReportMetric(med[0], "svcauth-ns")
			b.ReportMetric(med[1], "baseline-ns")
			b.ReportMetric(med[2], "sameio-ns")
			b.ReportMetric(med[0]-med[1], "above-baseline-ns")
			b.ReportMetric(med[0]-med[2], "above-sameio-ns")
		})
	}
}

// aboveNoopCase is a cached request for the paired benchmarks.
type aboveNoopCase struct {
	name, config string
	io           sameIOCase
	warm         func(b *testing.B, h directHost, headers [][2]string) // fills the cache
}

// aboveNoopCases are (a) and (c), the cached cookie and header pair.
func aboveNoopCases(b *testing.B) []aboveNoopCase {
	jwt := sign(b, testKey, nil)
	io := sameIOCases(jwt)
	return []aboveNoopCase{
		{"CachedCookie", testConfig(), io[0],
			func(b *testing.B, h directHost, hs [][2]string) { h.send(b, hs, types.ActionContinue) }}, // verified, then cached
		{"CachedHeaderPair", exchangeConfig, io[1],
			func(b *testing.B, h directHost, hs [][2]string) { h.exchange(b, hs, jwt) }},
		{"CachedCookieRS256", rsaConfig(), sameIOCases(signRSA(b, 0, rsaKID, nil))[0],
			func(b *testing.B, h directHost, hs [][2]string) { h.send(b, hs, types.ActionContinue) }},
	}
}

// medianTurns sends headers to hosts in turns of 500 requests each, timing
// every request alone, for b.N requests in all, and returns each host's
// median request in ns (nil when there were fewer requests than a turn
// each: a tiny -benchtime=Nx).
func medianTurns(b *testing.B, hosts []directHost, headers [][2]string) []float64 {
	const turn = 500 // requests in a row to one plugin
	times := make([][]time.Duration, len(hosts))
	i := 0
	for b.Loop() {
		k := (i / turn) % len(hosts)
		start := time.Now()
		hosts[k].send(b, headers, types.ActionContinue)
		times[k] = append(times[k], time.Since(start))
		i++
	}
	if len(times[len(hosts)-1]) == 0 {
		return nil
	}
	med := make([]float64, len(hosts))
	for k := range hosts {
		slices.Sort(times[k])
		med[k] = float64(times[k][len(times[k])/2])
	}
	return med
}

// BenchmarkVariants compares builds of the module in one process, as
// BenchmarkAboveNoop compares svcauth with the no-ops: svcauth
// (SVCAUTH_WASM), each module of SVCAUTH_VARIANTS ("name=path.wasm,…") and
// the same-io no-op take turns of 500 requests. For each variant it reports
// its own cost above the same-io no-op and how much slower than svcauth it
// is (<name>-slower-ns; negative: faster). make bench-unsafe builds the
// module once per svcauth_plain_* tag (filter/internal/rawmem) and runs this,
// so that each use of unsafe is judged by what it saves inside a request.
// Without SVCAUTH_VARIANTS it skips.
func BenchmarkVariants(b *testing.B) {
	spec := os.Getenv("SVCAUTH_VARIANTS")
	if spec == "" {
		b.Skip("SVCAUTH_VARIANTS not set (make bench-unsafe sets it)")
	}
	type variant struct {
		name string
		bin  []byte
	}
	var variants []variant
	for _, item := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(item, "=")
		bin, err := os.ReadFile(path)
		if !ok || err != nil {
			b.Fatalf("SVCAUTH_VARIANTS item %q: want name=path of a readable module (%v)", item, err)
		}
		variants = append(variants, variant{name, bin})
	}
	for _, tc := range aboveNoopCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			hosts := []directHost{newDirectHost(b, filterModule.binary(b), tc.config)}
			for _, v := range variants {
				hosts = append(hosts, newDirectHost(b, v.bin, tc.config))
			}
			for _, h := range hosts {
				tc.warm(b, h, tc.io.headers)
			}
			hosts = append(hosts, newDirectHost(b, noopModule.binary(b), tc.io.config))
			med := medianTurns(b, hosts, tc.io.headers)
			if med == nil {
				return
			}
			sameio := med[len(med)-1]
			b.ReportMetric(med[0]-sameio, "svcauth-above-sameio-ns")
			for i, v := range variants {
				b.ReportMetric(med[i+1]-sameio, v.name+"-above-sameio-ns")
				b.ReportMetric(med[i+1]-med[0], v.name+"-slower-ns")
			}
		})
	}
}

// requestHost is what the benchmarks drive: the SDK's emulator (with a
// native VM or the module) or the direct host.
type requestHost interface {
	// send runs one request, which must end in want, and ends its stream.
	send(b *testing.B, headers [][2]string, want types.Action)
	// exchange runs one request that must call the issuer, answers the
	// call with jwt, and ends the stream.
	exchange(b *testing.B, headers [][2]string, jwt string)
}

type benchTarget struct {
	name string
	host func(b *testing.B, config string) requestHost
}

// targets are the hosts a plugin runs on: natively (when native is not nil)
// and on the module, under the emulator and under the direct host.
func targets(native func() types.VMContext, module *wasmModule) []benchTarget {
	var out []benchTarget
	if native != nil {
		out = append(out, benchTarget{"go", func(b *testing.B, config string) requestHost { return newBenchHost(b, native(), config) }})
	}
	return append(out,
		benchTarget{"wasm", func(b *testing.B, config string) requestHost { return newBenchHost(b, module.get(b), config) }},
		benchTarget{"wasm-direct", func(b *testing.B, config string) requestHost {
			return newDirectHost(b, module.binary(b), config)
		}})
}

func filterTargets() []benchTarget {
	return targets(func() types.VMContext { return NewVMContext() }, filterModule)
}

func benchVMs(b *testing.B, config string, setup func(*testing.B, requestHost) [][2]string, want types.Action) {
	for _, t := range filterTargets() {
		b.Run(t.name, func(b *testing.B) { benchRequests(b, t.host(b, config), setup, want) })
	}
}

func constHeaders(h [][2]string) func(*testing.B, requestHost) [][2]string {
	return func(*testing.B, requestHost) [][2]string { return h }
}

// benchRequests times requests through a fresh host.
func benchRequests(b *testing.B, host requestHost, setup func(*testing.B, requestHost) [][2]string, want types.Action) {
	headers := setup(b, host)
	b.ReportAllocs()
	cpu := cpuTime()
	n := 0
	for b.Loop() {
		host.send(b, headers, want)
		n++
	}
	reportCPU(b, cpu, n)
}

// cpuTime is the process's user+system CPU time. Reported per request as
// cpu-ns/op, it is steadier than wall time on a shared machine: time spent
// waiting for a CPU does not count.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}

// benchHost is an emulator and, for a wasm VM, the module's proxy_on_delete.
type benchHost struct {
	proxytest.HostEmulator
	del func(id uint32)
}

func newBenchHost(b *testing.B, vm types.VMContext, config string) benchHost {
	quietLog(b)
	return benchHost{startHost(b, vm, config), guestDelete(b, vm)}
}

// send runs one request's header phase and ends the stream as Envoy does:
// proxy_on_log, then proxy_on_delete. The emulator never delivers the latter
// to a wasm module (so the SDK inside it would keep every stream's context:
// a leak of the harness, not of the filter), and never forgets a stream on
// its own side either; send does both.
func (h benchHost) send(b *testing.B, headers [][2]string, want types.Action) {
	id := h.InitializeHttpContext()
	if a := h.CallOnRequestHeaders(id, headers, true); a != want {
		if r := h.GetSentLocalResponse(id); r != nil {
			b.Fatalf("action %v, want %v; local reply %d %s", a, want, r.StatusCode, r.Data)
		}
		b.Fatalf("action %v, want %v", a, want)
	}
	h.finish(id)
}

func (h benchHost) exchange(b *testing.B, headers [][2]string, jwt string) {
	id, action := send(h, headers)
	callouts := h.GetCalloutAttributesFromContext(id)
	if action != types.ActionPause || len(callouts) != 1 {
		b.Fatalf("action %v, %d callouts; want an exchange", action, len(callouts))
	}
	h.CallOnHttpCallResponse(callouts[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(`{"jwt":"`+jwt+`"}`))
	if a := h.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
		b.Fatalf("exchange not resumed: %v", a)
	}
	h.finish(id)
}

func (h benchHost) finish(id uint32) {
	h.CompleteHttpContext(id)
	h.del(id)
	forgetStream(h.HostEmulator, id)
}

func benchHeaders(extra ...string) [][2]string {
	return get("/api/v1/items?page=2", append([]string{
		"user-agent", "ci-runner/1.0", "accept", "application/json",
		"x-request-id", "5f0c9a8e-2b1d-4c3e-9f7a-1b2c3d4e5f60", "x-forwarded-for", "198.51.100.23",
	}, extra...)...)
}

type noopVM struct{ types.DefaultVMContext }

func (*noopVM) NewPluginContext(uint32) types.PluginContext { return &noopPlugin{} }

type noopPlugin struct{ types.DefaultPluginContext }

func (*noopPlugin) NewHttpContext(uint32) types.HttpContext { return &types.DefaultHttpContext{} }

// BenchmarkMemory runs 1,000,000 requests (a mix: cached cookies of 2,000
// clients, new cookies, cached header pairs, 401s) through one wasm VM and
// reports the module's live heap after a collection (the plugin's
// svcauth.vm.heap_live_bytes gauge) and its linear memory, after a warm-up
// of 100,000 requests and at the end. The emulator never forgets a stream on
// its side; the benchmark deletes each finished one so that the host's
// memory stays out of the way.
func BenchmarkMemory(b *testing.B) {
	if os.Getenv("SVCAUTH_BENCH_MEMORY") == "" {
		b.Skip("set SVCAUTH_BENCH_MEMORY=1 to run 1,000,000 requests")
	}
	const total, warmup = 1_000_000, 100_000
	vm := filterModule.get(b)
	host := newBenchHost(b, vm, exchangeConfig)

	const clients = 2000
	cookies := make([][][2]string, clients)
	for i := range cookies {
		tok := sign(b, testKey, func(c *session.Claims) { c.ID = "jti-" + strconv.Itoa(i) })
		cookies[i] = benchHeaders("cookie", "CF_Authorization="+tok)
	}
	fresh := make([][][2]string, 256)
	for i := range fresh {
		tok := sign(b, testKey, func(c *session.Claims) { c.ID = "fresh-" + strconv.Itoa(i) })
		fresh[i] = benchHeaders("cookie", "CF_Authorization="+tok)
	}
	pair := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)
	host.exchange(b, pair, sign(b, testKey, nil))
	none := benchHeaders()

	request := func(i int) {
		switch {
		case i%100 == 0:
			host.send(b, none, types.ActionPause)
		case i%10 == 1:
			host.send(b, pair, types.ActionContinue)
		case i%1000 == 2:
			host.send(b, fresh[(i/1000)%len(fresh)], types.ActionContinue)
		default:
			host.send(b, cookies[i%clients], types.ActionContinue)
		}
	}
	gauge := func(name string) uint64 {
		v, err := host.GetGaugeMetric(name)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := 0; i < warmup; i++ {
			request(i)
		}
		heapWarm, memWarm, linWarm := gauge(metricHeapLive), gauge(metricMemory), linearMemory(b, vm)
		for i := warmup; i < total; i++ {
			request(i)
		}
		heapEnd, memEnd, linEnd := gauge(metricHeapLive), gauge(metricMemory), linearMemory(b, vm)
		b.ReportMetric(float64(heapWarm), "heap-live-warm-B")
		b.ReportMetric(float64(heapEnd), "heap-live-end-B")
		b.ReportMetric(float64(memWarm), "go-sys-warm-B")
		b.ReportMetric(float64(memEnd), "go-sys-end-B")
		b.ReportMetric(float64(linWarm), "linear-memory-warm-B")
		b.ReportMetric(float64(linEnd), "linear-memory-end-B")
		gcs, _ := host.GetCounterMetric(metricGCRuns)
		b.ReportMetric(float64(gcs), "gc-runs")
		b.Logf("after %d requests: live heap %d B, Go runtime Sys %d B, linear memory %d B; after %d: %d B, %d B, %d B; %d collections",
			warmup, heapWarm, memWarm, linWarm, total, heapEnd, memEnd, linEnd, gcs)
		if linEnd > linWarm+linWarm/10 {
			b.Errorf("linear memory grew from %d to %d bytes after warm-up", linWarm, linEnd)
		}
	}
}

// quietLog silences the emulator, which logs every plugin log line and every
// callout's headers and body (the client secret) with the standard logger.
func quietLog(b *testing.B) {
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(os.Stderr) })
}

// forgetStream deletes a finished stream from the emulator's own map, which
// otherwise keeps every stream's headers for the life of the emulator. The
// field is unexported: this is test-only reflection on proxytest internals.
func forgetStream(host proxytest.HostEmulator, id uint32) {
	v := reflect.ValueOf(host)
	if v.Kind() != reflect.Pointer {
		return
	}
	embedded := v.Elem().FieldByName("httpHostEmulator")
	if !embedded.IsValid() || embedded.IsNil() {
		return
	}
	streams := embedded.Elem().FieldByName("httpStreams")
	if !streams.IsValid() || streams.Kind() != reflect.Map {
		return
	}
	m := rawmem.Unexported(streams)
	m.SetMapIndex(reflect.ValueOf(id), reflect.Value{})
}

// guestModule returns the wazero module instance behind proxytest's
// WasmVMContext, or nil for a native VM. proxytest does not expose it, and a
// Go module has no name to look it up by, so this follows unexported fields:
// an exported function → wazero's call engine → its module engine → the
// module instance (test-only reflection; it fails loudly if either library
// changes shape).
func guestModule(b *testing.B, vm types.VMContext) api.Module {
	field := func(v reflect.Value, name string) reflect.Value {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				b.Fatalf("guestModule: nil on the way to %s", name)
			}
			v = v.Elem()
		}
		f := v.FieldByName(name)
		if !f.IsValid() {
			b.Fatalf("guestModule: no field %s in %s: update the reflection path", name, v.Type())
		}
		return rawmem.Unexported(f)
	}
	v := reflect.ValueOf(vm)
	if v.Kind() != reflect.Pointer || !v.Elem().FieldByName("abi").IsValid() {
		return nil // a native VM
	}
	fn := field(field(v, "abi"), "proxyOnVMStart")
	mod, ok := field(field(fn, "parent"), "module").Interface().(api.Module)
	if !ok || mod.Memory() == nil {
		b.Fatal("guestModule: the module instance is not an api.Module with memory")
	}
	return mod
}

// guestDelete returns what delivers proxy_on_delete to a wasm VM's module.
func guestDelete(b *testing.B, vm types.VMContext) func(uint32) {
	mod := guestModule(b, vm)
	if mod == nil {
		return func(uint32) {}
	}
	fn := mod.ExportedFunction("proxy_on_delete")
	if fn == nil {
		b.Fatal("the module exports no proxy_on_delete")
	}
	return func(id uint32) {
		if _, err := fn.Call(context.Background(), uint64(id)); err != nil {
			b.Fatalf("proxy_on_delete(%d): %v", id, err)
		}
	}
}

// linearMemory returns the size of the wasm module's linear memory.
func linearMemory(b *testing.B, vm types.VMContext) uint64 {
	return uint64(guestModule(b, vm).Memory().Size())
}
