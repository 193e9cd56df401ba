// Package devproxy is svcauth's development proxy: a small, real HTTP reverse
// proxy that runs a compiled proxy-wasm plugin (build/svcauth.wasm) through the
// proxy-wasm Go SDK's proxytest host emulator on wazero, so that the whole
// request path — client → filter → issuer callout → upstream — can be exercised
// with real HTTP on machines without Envoy.
//
// It is a development and test harness. Production runs Envoy.
//
// What it emulates, in Envoy's order: a request-headers callback with
// lower-case headers and the pseudo-headers :method, :path, :authority and
// :scheme (x-request-id generated and x-forwarded-proto set when absent, as
// Envoy's connection manager does before any filter); the downstream address
// as the property source.address and the arrival time as request.time (the
// guest's own WASI clock is wazero's fake one); dispatch_http_call to named clusters
// (--cluster NAME=URL) over real HTTP with the call's timeout, a failed call
// being reported to the plugin with zero headers as Envoy does; local replies,
// which, as in Envoy, pass through the plugin's response-headers callback;
// forwarding to the upstream with the headers the plugin left; the plugin's
// response-headers callback on the upstream response; the stream-done
// callback; and ticks on the period the plugin sets.
//
// Limitations (a harness, not a proxy):
//   - Body and trailer callbacks are not delivered: bodies stream through
//     untouched. Upgrades (WebSocket) are not supported.
//   - The emulator is process-global and not thread-safe: there can be one
//     Proxy per process at a time, every plugin call is serialised behind one
//     lock, and a request's callouts run one after another while it is held.
//   - The emulator never frees per-stream state (and the guest never sees
//     proxy_on_delete), so memory grows with the number of requests.
//   - Strings the emulator keeps for headers the plugin sets point into the
//     guest's linear memory; the proxy copies them right after each plugin
//     call, before the guest runs again, which is the best it can do.
//   - The emulator logs every callout's headers and body (the client secret)
//     with the standard log package: while a Proxy is open, log.SetOutput is
//     redirected to a filter that drops those lines. Whatever the guest
//     itself prints to stdout/stderr goes to the process's stderr.
//   - The emulator's header maps differ from Envoy's for repeated names:
//     remove and replace act on the first pair only, and add appends the
//     value to the first existing pair with no separator. A plugin that
//     behaves in Envoy may look wrong here when a client repeats a header
//     it removes or adds; never the other way round for removal. For
//     set-cookie, which plugins add (svcauth's session cookie) while
//     upstreams send their own, the proxy keeps the upstream's cookies out
//     of the emulator and sends them beside the plugin's: the plugin's
//     response-headers callback does not see the upstream's cookies.
//   - Callout ids are numbered len(outstanding) by the emulator: overlapping
//     callouts work as long as each callout callback dispatches at most one
//     new callout (see settle); a reused id is reported in the log.
//   - A test binary that opens a Proxy must not drive proxytest itself at the
//     same time (one emulator per process); a guest that traps while its
//     plugin context is created leaves the emulator locked for the process.
package devproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// DefaultCalloutTimeout is used for a callout whose timeout could be read
// neither from the dispatch nor from the plugin configuration.
const DefaultCalloutTimeout = 5 * time.Second

// maxCalloutResponse bounds the body of a callout response kept in memory.
const maxCalloutResponse = 16 << 20

// Config configures a Proxy.
type Config struct {
	// Wasm is the compiled plugin. Ignored when VM is set.
	Wasm []byte
	// VM is an already compiled plugin (proxytest.NewWasmVMContext). Tests
	// that open several proxies one after another share one: compiling costs
	// about a second. The Proxy does not close it. Plugin package-level state
	// survives from one Proxy to the next; plugin-context state does not.
	VM proxytest.WasmVMContext
	// PluginConfig is the plugin configuration (Envoy's "configuration").
	PluginConfig []byte
	// Upstream is the URL requests are forwarded to (scheme and host only).
	Upstream string
	// Clusters maps Envoy cluster names, as used in dispatch_http_call, to
	// URLs (scheme and host only): one, or several separated by commas for
	// a cluster of several endpoints (round robin, a refusing endpoint
	// ejected for a while, as Envoy's outlier detection does).
	Clusters map[string]string
	// CalloutTimeout is used when a dispatch's own timeout cannot be read
	// (the emulator does not expose it; the proxy reads it from the
	// emulator's log). Zero: the plugin configuration's issuer.timeout_ms,
	// else DefaultCalloutTimeout.
	CalloutTimeout time.Duration
	// Log receives the plugin's log lines, the proxy's own messages and an
	// access log line per request. Nil: os.Stderr. It never receives a
	// callout's headers or body.
	Log io.Writer
}

// Proxy is a running plugin behind an http.Handler. Create it with New and
// release it with Close; only one can be open in a process at a time.
type Proxy struct {
	upstream       *url.URL
	clusters       map[string]*cluster
	transport      *http.Transport
	out            *syncWriter
	logs           *logFilter
	restoreLog     func()
	defaultTimeout time.Duration

	// baseCtx bounds callouts made outside any request (ticks, start-up).
	baseCtx context.Context
	cancel  context.CancelFunc

	// mu serialises every call into the emulator. proxytest's host emulator
	// is a process-global, unsynchronised state machine, and its callout
	// ids are len(map of outstanding callouts), so two requests with
	// callouts pending at the same time would receive the same id. A request
	// therefore holds mu from its request-headers callback until every
	// callout it caused has been answered (callouts are serialised); mu is
	// released while the upstream is contacted and taken again for the
	// response-headers and stream-done callbacks. Ticks take it too.
	mu      sync.Mutex
	host    proxytest.HostEmulator
	reset   func()
	vm      proxytest.WasmVMContext
	ownVM   bool
	closed  bool
	crashed bool             // a callback trapped: fail closed from then on, as Envoy does
	seen    map[uint32]int   // context id → callout attributes already taken
	pending []pendingCallout // dispatched, not yet answered: a stack (see settle)

	tickPeriod atomic.Uint32 // last period the plugin set, in ms
	tickWake   chan struct{}
	tickDone   chan struct{}
}

// active makes sure a process has one Proxy at a time (the emulator is global).
var active atomic.Bool

var (
	errClosed = errors.New("dev proxy is closed")
	// errCrashed wraps a panic out of the emulator: a trap in the guest.
	errCrashed = errors.New("plugin crashed")
	// errCrashedBefore answers every request after a crash. Envoy (fail_open
	// false, failure_policy FAIL_CLOSED) refuses requests with 503 once its
	// VM has failed, until the VM is reloaded.
	errCrashedBefore = fmt.Errorf("%w earlier: failing closed as Envoy does until its VM is reloaded; restart the dev proxy", errCrashed)
)

// New compiles (unless cfg.VM is set) and starts the plugin: OnVMStart, then
// OnPluginStart with cfg.PluginConfig. A plugin that refuses to start is an
// error that carries its critical and error logs.
func New(cfg Config) (*Proxy, error) {
	upstream, clusters, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	if !active.CompareAndSwap(false, true) {
		return nil, errors.New("another dev proxy is open in this process: the proxy-wasm emulator is process-global")
	}
	p := &Proxy{
		upstream:  upstream,
		clusters:  clusters,
		transport: newTransport(),
		out:       &syncWriter{w: cfg.Log},
		seen:      map[uint32]int{},
		tickWake:  make(chan struct{}, 1),
		tickDone:  make(chan struct{}),
	}
	if p.out.w == nil {
		p.out.w = os.Stderr
	}
	p.defaultTimeout = cfg.CalloutTimeout
	if p.defaultTimeout <= 0 {
		p.defaultTimeout = timeoutFromPluginConfig(cfg.PluginConfig)
	}
	p.baseCtx, p.cancel = context.WithCancel(context.Background())
	p.logs, p.restoreLog = installLogFilter(p.out)

	fail := func(err error) (*Proxy, error) {
		p.cancel()
		if p.reset != nil {
			p.reset()
		}
		if p.ownVM && p.vm != nil {
			_ = p.vm.Close()
		}
		p.restoreLog()
		active.Store(false)
		return nil, err
	}

	p.vm, p.ownVM = cfg.VM, false
	if p.vm == nil {
		vm, err := proxytest.NewWasmVMContext(cfg.Wasm)
		if err != nil {
			return fail(fmt.Errorf("loading the wasm plugin: %w", err))
		}
		p.vm, p.ownVM = vm, true
	}

	err = p.locked(func() error {
		p.host, p.reset = proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
			WithVMContext(p.vm).
			WithPluginConfiguration(cfg.PluginConfig))
		if st := p.host.StartVM(); st != types.OnVMStartStatusOK {
			return p.startFailure("the plugin's OnVMStart failed")
		}
		if st := p.host.StartPlugin(); st != types.OnPluginStartStatusOK {
			return p.startFailure("the plugin refused to start (OnPluginStart failed)")
		}
		// A plugin may dispatch callouts from OnPluginStart.
		p.settle(p.baseCtx, proxytest.PluginContextID, false)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	go p.tickLoop()
	return p, nil
}

// startFailure is the error of a failed start, with the plugin's critical
// and error logs. The emulator's log strings point into guest memory: they
// are copied before the guest runs again.
func (p *Proxy) startFailure(what string) error {
	var b strings.Builder
	b.WriteString(what)
	for _, l := range p.host.GetCriticalLogs() {
		b.WriteString("\n  critical: " + strings.Clone(l))
	}
	for _, l := range p.host.GetErrorLogs() {
		b.WriteString("\n  error: " + strings.Clone(l))
	}
	return errors.New(b.String())
}

func validate(cfg Config) (*url.URL, map[string]*cluster, error) {
	upstream, clusters, err := parseTargets(cfg.Upstream, cfg.Clusters)
	if cfg.VM == nil && len(cfg.Wasm) == 0 {
		err = errors.Join(err, errors.New("no plugin: set Config.Wasm or Config.VM"))
	}
	if err != nil {
		return nil, nil, err
	}
	return upstream, clusters, nil
}

// parseTargets checks the upstream and cluster URLs, reporting every problem.
func parseTargets(upstreamURL string, clusterURLs map[string]string) (*url.URL, map[string]*cluster, error) {
	var problems []error
	upstream, err := parseOrigin(upstreamURL)
	if err != nil {
		problems = append(problems, fmt.Errorf("upstream: %w", err))
	}
	clusters := map[string]*cluster{}
	names := make([]string, 0, len(clusterURLs))
	for name := range clusterURLs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			problems = append(problems, errors.New("cluster: empty name"))
			continue
		}
		var urls []*url.URL
		for _, one := range strings.Split(clusterURLs[name], ",") {
			u, err := parseOrigin(strings.TrimSpace(one))
			if err != nil {
				problems = append(problems, fmt.Errorf("cluster %q: %w", name, err))
				continue
			}
			urls = append(urls, u)
		}
		if len(urls) > 0 {
			clusters[name] = newCluster(urls)
		}
	}
	return upstream, clusters, errors.Join(problems...)
}

// parseOrigin accepts http(s)://host[:port] with an optional trailing "/":
// Envoy clusters are addresses, not URLs with paths.
func parseOrigin(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("URL is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q: only scheme://host[:port] is allowed (no path, query or user info)", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// timeoutFromPluginConfig reads issuer.timeout_ms from svcauth's plugin
// configuration, if it is there.
func timeoutFromPluginConfig(cfg []byte) time.Duration {
	var c struct {
		Issuer struct {
			TimeoutMS int64 `json:"timeout_ms"`
		} `json:"issuer"`
	}
	if json.Unmarshal(cfg, &c) == nil && c.Issuer.TimeoutMS > 0 && c.Issuer.TimeoutMS <= 600_000 {
		return time.Duration(c.Issuer.TimeoutMS) * time.Millisecond
	}
	return DefaultCalloutTimeout
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // never an HTTP(S)_PROXY from the environment
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// A proxy passes encodings through; it must not ask for gzip and
		// decode it behind the client's back.
		DisableCompression:    true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second, // Envoy's default route timeout
	}
}

// Close stops ticks, calls the plugin's OnPluginDone, releases the emulator
// (and the VM when New compiled it) and restores the standard logger's
// output. Requests still in flight get 503.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	func() {
		if p.crashed {
			return
		}
		defer func() {
			if r := recover(); r != nil {
				p.logf("plugin crashed in OnPluginDone: %v", r)
			}
		}()
		p.host.FinishVM()
	}()
	p.reset()
	p.mu.Unlock()
	<-p.tickDone
	var err error
	if p.ownVM {
		err = p.vm.Close()
	}
	p.transport.CloseIdleConnections()
	p.restoreLog()
	active.Store(false)
	return err
}

// locked runs fn with the emulator lock held. A panic out of the emulator —
// a trap in the guest, such as a Go panic inside the plugin — becomes
// errCrashed; the request that hit it fails closed.
func (p *Proxy) locked(fn func() error) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if p.crashed {
		return errCrashedBefore
	}
	defer func() {
		if r := recover(); r != nil {
			p.pending = nil
			p.crashed = true
			err = fmt.Errorf("%w: %v", errCrashed, r)
			p.logf("%v", err)
		}
		if p.host != nil {
			p.noteTickPeriod(p.host.GetTickPeriod())
		}
	}()
	return fn()
}

func (p *Proxy) logf(format string, args ...any) {
	fmt.Fprintf(p.out, "svcauth-devproxy: "+format+"\n", args...)
}

// ServeHTTP runs one downstream request through the plugin.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &stream{p: p, w: w, r: r, start: time.Now()}
	s.serve()
	p.logf("%s %s %d %s %dms", r.Method, r.URL.Path, s.status, s.via, time.Since(s.start).Milliseconds())
}

// stream is one downstream request.
type stream struct {
	p      *Proxy
	w      http.ResponseWriter
	r      *http.Request
	start  time.Time
	id     uint32 // emulator context id; 0 before InitializeHttpContext
	status int    // for the access log
	via    string // "upstream", "local_reply", "error"
}

// localReply is a copy of what the plugin passed to send_local_response.
type localReply struct {
	status  int
	headers [][2]string
	body    []byte
}

func (s *stream) serve() {
	p, r := s.p, s.r
	headers := requestHeaders(r)
	endOfStream := r.ContentLength == 0

	// Request phase: the request-headers callback and every callout it
	// causes, under one hold of the lock.
	var local *localReply
	var forward [][2]string
	err := p.locked(func() error {
		s.id = p.host.InitializeHttpContext()
		s.setProperties()
		p.host.CallOnRequestHeaders(s.id, headers, endOfStream)
		p.settle(r.Context(), s.id, false)
		if lr := p.host.GetSentLocalResponse(s.id); lr != nil {
			local = copyLocalReply(lr)
			return nil
		}
		if p.host.GetCurrentHttpStreamAction(s.id) != types.ActionContinue {
			return errStalled
		}
		forward = cloneHeaders(p.host.GetCurrentRequestHeaders(s.id))
		return nil
	})
	if s.id != 0 && !errors.Is(err, errCrashed) {
		defer s.complete()
	}
	switch {
	case err != nil:
		s.fail(err)
	case local != nil:
		s.sendLocalReply(local)
	default:
		s.forward(forward)
	}
}

var errStalled = errors.New("plugin neither resumed nor replied: it paused the stream with no callout pending (a plugin bug; Envoy would hang until the client gave up)")

// fail answers a plugin bug with 500, made visible rather than hidden; a
// crashed plugin or a closing proxy with 503, as Envoy fails a stream whose
// VM has failed.
func (s *stream) fail(err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, errClosed) || errors.Is(err, errCrashed) {
		code = http.StatusServiceUnavailable
	}
	s.status, s.via = code, "error"
	if !errors.Is(err, errCrashed) { // crashes are logged where they happen
		s.p.logf("%s %s: %v", s.r.Method, s.r.URL.Path, err)
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // a trap's wasm stack trace stays in the log
	}
	h := s.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(code)
	fmt.Fprintf(s.w, "svcauth-devproxy: %s\n", msg)
}

// complete delivers the stream-done callback (proxy_on_log).
func (s *stream) complete() {
	_ = s.p.locked(func() error {
		s.setProperties()
		s.p.host.CompleteHttpContext(s.id)
		// A callout dispatched from the stream-done callback belongs to a
		// stream that no longer exists: answer it as failed, without
		// network, so that the emulator forgets it.
		s.p.settle(s.p.baseCtx, s.id, true)
		delete(s.p.seen, s.id)
		return nil
	})
}

// sendLocalReply sends the plugin's local reply. In Envoy a local reply
// travels through the encoder filters, the plugin's own response-headers
// callback included, so it is delivered here too (a second local reply from
// that callback is ignored, as Envoy ignores it).
func (s *stream) sendLocalReply(lr *localReply) {
	if lr.status < 100 || lr.status > 999 {
		s.fail(fmt.Errorf("plugin sent a local reply with invalid status %d", lr.status))
		return
	}
	headers := [][2]string{{":status", fmt.Sprint(lr.status)}}
	hasType := false
	for _, kv := range lr.headers {
		k := strings.ToLower(kv[0])
		if strings.HasPrefix(k, ":") || k == "content-length" {
			continue
		}
		if k == "content-type" {
			hasType = true
		}
		headers = append(headers, [2]string{k, kv[1]})
	}
	if len(lr.body) > 0 {
		if !hasType {
			headers = append(headers, [2]string{"content-type", "text/plain"})
		}
		headers = append(headers, [2]string{"content-length", fmt.Sprint(len(lr.body))})
	}
	var out [][2]string
	err := s.p.locked(func() error {
		s.setProperties()
		s.p.host.CallOnResponseHeaders(s.id, headers, len(lr.body) == 0)
		s.p.settle(s.r.Context(), s.id, false)
		if s.p.host.GetCurrentHttpStreamAction(s.id) != types.ActionContinue {
			return errStalled
		}
		out = cloneHeaders(s.p.host.GetCurrentResponseHeaders(s.id))
		return nil
	})
	if err != nil {
		s.fail(err)
		return
	}
	s.via = "local_reply"
	s.writeHeaders(out, lr.status)
	if s.r.Method != http.MethodHead {
		_, _ = s.w.Write(lr.body)
	}
}

// forward sends the request upstream with the headers the plugin left and
// the original body, then runs the response-headers callback.
func (s *stream) forward(headers [][2]string) {
	req, err := s.upstreamRequest(headers)
	if err != nil {
		s.fail(err)
		return
	}
	resp, err := s.p.transport.RoundTrip(req)
	if err != nil {
		// Envoy's router answers a failed upstream with its own local reply
		// (503, or 504 on timeout), which the plugin sees as a response.
		code, msg := http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code, msg = http.StatusGatewayTimeout, "upstream request timeout"
		}
		s.p.logf("%s %s: upstream: %v", s.r.Method, s.r.URL.Path, err)
		s.sendLocalReply(&localReply{status: code, body: []byte(msg)})
		return
	}
	defer resp.Body.Close()

	// The upstream's Set-Cookie headers are kept out of the emulator: its
	// header map appends a value added under an existing name onto the first
	// one (no separator), so a cookie the plugin adds would be glued onto the
	// upstream's first cookie. Envoy keeps them apart; so does this proxy.
	respHeaders, upstreamCookies := splitSetCookie(responseHeaders(resp))
	endOfStream := resp.ContentLength == 0 || s.r.Method == http.MethodHead ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	var out [][2]string
	var local *localReply
	err = s.p.locked(func() error {
		s.setProperties()
		s.p.host.CallOnResponseHeaders(s.id, respHeaders, endOfStream)
		s.p.settle(s.r.Context(), s.id, false)
		if lr := s.p.host.GetSentLocalResponse(s.id); lr != nil {
			// Sent from the response-headers callback: it replaces the
			// upstream response, whose body is dropped.
			local = copyLocalReply(lr)
			return nil
		}
		if s.p.host.GetCurrentHttpStreamAction(s.id) != types.ActionContinue {
			return errStalled
		}
		out = append(upstreamCookies, cloneHeaders(s.p.host.GetCurrentResponseHeaders(s.id))...)
		return nil
	})
	switch {
	case err != nil:
		s.fail(err)
		return
	case local != nil:
		s.writeLocalReplyDirect(local)
		return
	}
	s.via = "upstream"
	s.writeHeaders(out, resp.StatusCode)
	copyBody(s.w, resp.Body)
}

// writeLocalReplyDirect writes a local reply sent from the response-headers
// callback, without running that callback again.
func (s *stream) writeLocalReplyDirect(lr *localReply) {
	if lr.status < 100 || lr.status > 999 {
		s.fail(fmt.Errorf("plugin sent a local reply with invalid status %d", lr.status))
		return
	}
	h := s.w.Header()
	for _, kv := range lr.headers {
		if !strings.HasPrefix(kv[0], ":") && !isHopByHop(kv[0]) && !strings.EqualFold(kv[0], "content-length") {
			h.Add(kv[0], kv[1])
		}
	}
	if len(lr.body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain")
	}
	s.status, s.via = lr.status, "local_reply"
	s.w.WriteHeader(lr.status)
	_, _ = s.w.Write(lr.body)
}

// writeHeaders writes the plugin's view of the response headers; the status
// is the :status the plugin left, else fallback.
func (s *stream) writeHeaders(headers [][2]string, fallback int) {
	status := fallback
	h := s.w.Header()
	for _, kv := range headers {
		k := kv[0]
		if k == ":status" {
			var code int
			if _, err := fmt.Sscan(kv[1], &code); err == nil && code >= 100 && code <= 999 {
				status = code
			}
			continue
		}
		if strings.HasPrefix(k, ":") || isHopByHop(k) {
			continue
		}
		h.Add(k, kv[1])
	}
	s.status = status
	s.w.WriteHeader(status)
}

func (s *stream) upstreamRequest(headers [][2]string) (*http.Request, error) {
	var method, path, authority string
	hdr := http.Header{}
	for _, kv := range headers {
		switch k := kv[0]; {
		case k == ":method":
			method = kv[1]
		case k == ":path":
			path = kv[1]
		case k == ":authority":
			authority = kv[1]
		case strings.HasPrefix(k, ":"), k == "host", k == "content-length", k == "expect", isHopByHop(k):
		default:
			hdr.Add(k, kv[1])
		}
	}
	if method == "" || path == "" || authority == "" {
		return nil, errors.New("plugin removed :method, :path or :authority from the request")
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("request :path %q does not start with /", path)
	}
	var body io.Reader = http.NoBody
	if s.r.ContentLength != 0 {
		body = s.r.Body
	}
	req, err := http.NewRequestWithContext(s.r.Context(), method, s.p.upstream.String()+path, body)
	if err != nil {
		return nil, fmt.Errorf("building the upstream request: %w", err)
	}
	req.Host = authority
	req.ContentLength = s.r.ContentLength
	if _, ok := hdr["User-Agent"]; !ok {
		hdr["User-Agent"] = []string{""} // no Go default User-Agent
	}
	req.Header = hdr
	return req, nil
}

// setProperties exposes the stream's Envoy attributes the filter reads:
// source.address (the downstream ip:port) and request.time (when the request
// arrived: 8 bytes, little-endian Unix nanoseconds, as Envoy serialises a
// timestamp). request.time matters: proxytest's wazero module runs on
// wazero's default fake WASI clock (2022-01-01, +1 ms per reading), so a
// plugin must not trust time.Now. proxytest's properties are global, not per
// stream, so they are set under the lock right before each callback.
func (s *stream) setProperties() {
	if s.r.RemoteAddr != "" {
		_ = s.p.host.SetProperty([]string{"source", "address"}, []byte(s.r.RemoteAddr))
	}
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], uint64(s.start.UnixNano()))
	_ = s.p.host.SetProperty([]string{"request", "time"}, t[:])
}

func copyLocalReply(lr *proxytest.LocalHttpResponse) *localReply {
	return &localReply{
		status:  int(lr.StatusCode),
		headers: cloneHeaders(lr.Headers),
		body:    bytes.Clone(lr.Data),
	}
}

// copyBody streams the upstream body to the client, flushing as it goes so
// that streamed responses stay streamed.
func copyBody(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// syncWriter serialises writes from the log filter, handlers and ticks.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
