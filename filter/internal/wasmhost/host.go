//go:build !wasip1

// Package wasmhost is a minimal proxy-wasm host on wazero, for benchmarks.
//
// The SDK's emulator (proxytest) runs a module's host calls through
// reflection and its native emulation (header maps with lower-casing,
// per-call allocations): each host call costs several microseconds there,
// more than the whole of a cached request's own work, while Envoy's cost a
// small fraction of a microsecond. To measure what a request costs a module
// rather than what it costs the emulator, this host implements the ABI
// functions svcauth's module imports (proxy-wasm ABI 0.2.1, as
// proxy-wasm-cpp-host does) directly as wazero Go functions over the module's
// memory, gives the module real WASI clocks (as Envoy does), and drives each
// stream through the callbacks Envoy makes: context creation, request and
// response headers, log, done, delete.
//
// It serves one plugin in one VM and one stream at a time (plus streams held
// by a callout), with Envoy's header-map semantics for what svcauth uses:
// lower-case names, get returns the first value, replace sets one value,
// remove removes every value. It is a benchmark harness, not a proxy: what
// the module must behave like is tested on the SDK's emulator.
package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// compiled keeps compiled modules for the life of the process: compiling
// the module takes seconds, and benchmarks start many hosts.
var compiled = wazero.NewCompilationCache()

// rootID is the plugin (root) context's id; streams get ids after it.
const rootID = 1

// Options configure a Host.
type Options struct {
	// PluginConfig is what proxy_get_buffer_bytes returns for the plugin
	// configuration (Envoy: the plugin's `configuration` value).
	PluginConfig []byte
	// Properties are the host attributes by dotted path ("source.address").
	// request.time is always the current time.
	Properties map[string][]byte
	// Log receives the module's log lines and its stdout/stderr; nil
	// discards them.
	Log io.Writer
	// BreakHeaderMap, when set, rewrites every serialised header map the
	// module asks for (proxy_get_header_map_pairs): a broken host, for the
	// tests of what the module does with a map it cannot read.
	BreakHeaderMap func([]byte) []byte
	// Shared is the proxy-wasm shared data the module reads and writes. Hosts
	// given the same one behave as the worker VMs of one Envoy; nil gives the
	// host a store of its own.
	Shared *SharedData
}

// SharedData is proxy-wasm shared data: the key-value store, with CAS, that
// the VMs of one proxy share. Hosts are not safe for concurrent use, and
// neither is a SharedData: drive the hosts sharing it from one goroutine.
type SharedData struct{ values map[string]*sharedValue }

// NewSharedData returns an empty store.
func NewSharedData() *SharedData { return &SharedData{values: map[string]*sharedValue{}} }

// Host runs one module. It is not safe for concurrent use.
type Host struct {
	ctx   context.Context
	rt    wazero.Runtime
	mod   api.Module
	guest guestABI
	opts  Options
	props map[string][]byte // by NUL-separated path, as the module sends it
	log   io.Writer

	nextID    uint32
	effective uint32 // the context host calls act on
	streams   map[uint32]*Stream

	shared      *SharedData
	metrics     []metric
	metricIDs   map[string]uint32
	callouts    map[uint32]*Callout
	nextCallout uint32
	calloutResp *response // during proxy_on_http_call_response

	stack [8]uint64 // arguments and results of guest calls
}

type sharedValue struct {
	value []byte
	cas   uint32
}

// Stream is one HTTP stream as the host sees it.
type Stream struct {
	ID              uint32
	RequestHeaders  [][2]string
	ResponseHeaders [][2]string
	// Action is what the module answered to the request headers.
	Action uint32
	// Continued is set when the module resumed the request (after a pause).
	Continued bool
	// Local is the module's local reply, if it sent one.
	Local *LocalResponse
}

// LocalResponse is a reply the module sent instead of the upstream's.
type LocalResponse struct {
	Status  uint32
	Details string
	Headers [][2]string
	Body    []byte
}

// Callout is an HTTP call the module dispatched (proxy_http_call).
type Callout struct {
	Token     uint32
	Upstream  string
	Headers   [][2]string
	Body      []byte
	TimeoutMS uint32
}

type response struct {
	headers [][2]string
	body    []byte
}

type metric struct {
	name  string
	kind  uint32 // 0 counter, 1 gauge, 2 histogram
	value uint64
}

// New compiles and instantiates wasm (a proxy-wasm module built as a WASI
// reactor) with the proxy-wasm ABI and WASI.
func New(ctx context.Context, wasm []byte, opts Options) (*Host, error) {
	h := &Host{
		ctx: ctx, opts: opts, log: opts.Log,
		rt:        wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compiled)),
		props:     map[string][]byte{},
		nextID:    rootID + 1,
		streams:   map[uint32]*Stream{},
		shared:    opts.Shared,
		metricIDs: map[string]uint32{},
		callouts:  map[uint32]*Callout{},
	}
	if h.log == nil {
		h.log = io.Discard
	}
	if h.shared == nil {
		h.shared = NewSharedData()
	}
	for path, v := range opts.Properties {
		h.props[strings.ReplaceAll(path, ".", "\x00")] = v
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		h.rt.Close(ctx)
		return nil, err
	}
	if err := h.exportABI(); err != nil {
		h.rt.Close(ctx)
		return nil, err
	}
	code, err := h.rt.CompileModule(ctx, wasm)
	if err != nil {
		h.rt.Close(ctx)
		return nil, err
	}
	cfg := wazero.NewModuleConfig().
		WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(h.log).WithStderr(h.log)
	if h.mod, err = h.rt.InstantiateModule(ctx, code, cfg); err != nil {
		h.rt.Close(ctx)
		return nil, err
	}
	if err := h.guest.bind(h.mod); err != nil {
		h.rt.Close(ctx)
		return nil, err
	}
	return h, nil
}

// Close releases the runtime.
func (h *Host) Close() error { return h.rt.Close(h.ctx) }

// Start creates the plugin context and runs proxy_on_vm_start and
// proxy_on_configure, as Envoy does when it loads the plugin.
func (h *Host) Start() error {
	h.call(h.guest.contextCreate, rootID, 0)
	if h.call(h.guest.vmStart, rootID, 0) == 0 {
		return errors.New("wasmhost: proxy_on_vm_start failed")
	}
	if h.call(h.guest.configure, rootID, uint64(len(h.opts.PluginConfig))) == 0 {
		return errors.New("wasmhost: proxy_on_configure failed (the plugin refused its configuration)")
	}
	return nil
}

// Tick runs the plugin's tick (proxy_on_tick).
func (h *Host) Tick() { h.call(h.guest.tick, rootID) }

// Request creates a stream with a copy of headers and runs its
// request-headers callback (the request has no body).
func (h *Host) Request(headers [][2]string) *Stream {
	s := &Stream{ID: h.nextID, RequestHeaders: slices.Clone(headers)} // the module edits them
	h.nextID++
	h.streams[s.ID] = s
	h.call(h.guest.contextCreate, uint64(s.ID), rootID)
	s.Action = uint32(h.call(h.guest.requestHeaders, uint64(s.ID), uint64(len(headers)), 1))
	return s
}

// Finish ends a stream as Envoy does: End, then Delete.
func (h *Host) Finish(s *Stream) {
	h.End(s)
	h.Delete(s)
}

// End runs the end of a stream: unless the module replied locally, the
// upstream's response headers (status 200) go through the module; then
// proxy_on_log and proxy_on_done. Envoy may delete the context later
// (Delete), and other streams and callout answers can come in between.
func (h *Host) End(s *Stream) {
	if s.Local == nil {
		s.ResponseHeaders = append(s.ResponseHeaders[:0], [2]string{":status", "200"}, [2]string{"content-length", "0"})
		h.call(h.guest.responseHeaders, uint64(s.ID), uint64(len(s.ResponseHeaders)), 1)
	}
	h.call(h.guest.log, uint64(s.ID))
	h.call(h.guest.done, uint64(s.ID))
}

// Delete deletes the stream's context (proxy_on_delete).
func (h *Host) Delete(s *Stream) {
	h.call(h.guest.delete, uint64(s.ID))
	delete(h.streams, s.ID)
}

// Callouts returns the module's pending HTTP calls.
func (h *Host) Callouts() []*Callout {
	out := make([]*Callout, 0, len(h.callouts))
	for _, c := range h.callouts {
		out = append(out, c)
	}
	return out
}

// Respond delivers the response of callout c (proxy_on_http_call_response).
func (h *Host) Respond(c *Callout, headers [][2]string, body []byte) {
	delete(h.callouts, c.Token)
	h.calloutResp = &response{headers: headers, body: body}
	defer func() { h.calloutResp = nil }()
	h.call(h.guest.httpCallResponse, rootID, uint64(c.Token), uint64(len(headers)), uint64(len(body)), 0)
}

// Metric returns the value of the counter, gauge or histogram (its last
// recorded value) the module defined under name.
func (h *Host) Metric(name string) (uint64, bool) {
	id, ok := h.metricIDs[name]
	if !ok {
		return 0, false
	}
	return h.metrics[id].value, true
}

// call runs a guest export with up to 5 arguments and returns its first
// result (0 when it has none). The stack is reused: no allocation per call.
func (h *Host) call(f api.Function, args ...uint64) uint64 {
	if len(args) > 0 {
		switch args[0] {
		case rootID:
			h.effective = rootID
		default:
			if _, ok := h.streams[uint32(args[0])]; ok {
				h.effective = uint32(args[0])
			}
		}
	}
	n := copy(h.stack[:], args)
	if err := f.CallWithStack(h.ctx, h.stack[:max(n, 1)]); err != nil {
		panic(fmt.Sprintf("wasmhost: %s: %v", f.Definition().Name(), err))
	}
	if len(f.Definition().ResultTypes()) == 0 {
		return 0
	}
	return h.stack[0]
}

// guestABI holds the module's exports the host calls.
type guestABI struct {
	contextCreate, vmStart, configure, tick     api.Function
	requestHeaders, responseHeaders             api.Function
	log, done, delete, httpCallResponse, malloc api.Function
}

func (g *guestABI) bind(mod api.Module) error {
	for name, f := range map[string]*api.Function{
		"proxy_on_context_create":     &g.contextCreate,
		"proxy_on_vm_start":           &g.vmStart,
		"proxy_on_configure":          &g.configure,
		"proxy_on_tick":               &g.tick,
		"proxy_on_request_headers":    &g.requestHeaders,
		"proxy_on_response_headers":   &g.responseHeaders,
		"proxy_on_log":                &g.log,
		"proxy_on_done":               &g.done,
		"proxy_on_delete":             &g.delete,
		"proxy_on_http_call_response": &g.httpCallResponse,
		"proxy_on_memory_allocate":    &g.malloc,
	} {
		if *f = mod.ExportedFunction(name); *f == nil {
			return fmt.Errorf("wasmhost: the module does not export %s", name)
		}
	}
	return nil
}

// now is request.time: the host's clock, as Envoy's request start time.
func now() []byte {
	ns := uint64(time.Now().UnixNano())
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(ns >> (8 * i))
	}
	return b
}
