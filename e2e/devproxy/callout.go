package devproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

// pendingCallout is a copy of one dispatch_http_call the plugin made.
type pendingCallout struct {
	id        uint32
	contextID uint32 // the stream (or the plugin context) that dispatched it
	cluster   string
	headers   [][2]string
	body      []byte
	timeout   time.Duration // 0: unknown, use the default
}

// settle answers, over real HTTP, every callout the plugin has dispatched
// and not yet received an answer for — including callouts dispatched from
// those answers' callbacks — until none is left. It runs with p.mu held.
//
// streamID is the context whose callback just ran; callouts of the plugin
// context (ticks, start-up) are collected as well. With dropOnly, callouts of
// streamID are answered as failed without any network (the stream is gone).
//
// Answers go out newest first. The emulator numbers a new callout
// len(its map of outstanding callouts) and deletes an entry only after the
// answer's callback has returned, so the order of answers decides whether a
// later dispatch reuses the id of a callout still outstanding (which would
// overwrite that callout's callback). Newest first never reuses an id as long
// as each callout callback dispatches at most one new callout — any number
// may be dispatched from a request, response or tick callback — which covers
// a single exchange, chains, and fan-out without nested fan-out (checked by
// exhaustive simulation of the emulator's numbering). Beyond that, collect
// detects a reused id and says so in the log.
func (p *Proxy) settle(ctx context.Context, streamID uint32, dropOnly bool) {
	for {
		p.collect(streamID)
		if len(p.pending) == 0 {
			return
		}
		c := p.pending[len(p.pending)-1]
		p.pending = p.pending[:len(p.pending)-1]

		var headers [][2]string
		var body []byte
		switch {
		case dropOnly && c.contextID == streamID:
			p.logf("callout %d to cluster %q dispatched after the stream ended: answered as failed", c.id, c.cluster)
		case c.contextID == streamID:
			headers, body = p.doCallout(ctx, c)
		default:
			headers, body = p.doCallout(p.baseCtx, c)
		}
		// Zero headers is how Envoy reports a failed call (no connection,
		// reset, timeout, unknown cluster).
		p.host.CallOnHttpCallResponse(c.id, headers, nil, body)
	}
}

// collect moves the callouts dispatched since the last look onto p.pending.
//
// GetCalloutAttributesFromContext lists every callout a context ever made and
// never shrinks (ids are reused), so the proxy remembers per context how many
// it has taken. The dispatch timeout is not in the attributes; the emulator
// only logs it, and the log filter queues it (see logFilter), in dispatch
// order. When exactly one context produced new callouts and the counts agree,
// the queued timeouts belong to them in order; otherwise the default applies.
func (p *Proxy) collect(streamID uint32) {
	timeouts := p.logs.takeTimeouts()
	ids := []uint32{streamID}
	if streamID != proxytest.PluginContextID {
		ids = append(ids, proxytest.PluginContextID)
	}
	var fresh []pendingCallout
	sources := 0
	for _, id := range ids {
		attrs := p.host.GetCalloutAttributesFromContext(id)
		n := p.seen[id]
		if len(attrs) <= n {
			continue
		}
		sources++
		for _, a := range attrs[n:] {
			// Upstream and Headers point into guest memory: copy now.
			fresh = append(fresh, pendingCallout{
				id:        a.CalloutID,
				contextID: id,
				cluster:   strings.Clone(a.Upstream),
				headers:   cloneHeaders(a.Headers),
				body:      bytes.Clone(a.Body),
			})
		}
		p.seen[id] = len(attrs)
	}
	if sources == 1 && len(timeouts) == len(fresh) {
		for i := range fresh {
			fresh[i].timeout = timeouts[i]
		}
	}
	for _, f := range fresh {
		// An id still outstanding means the emulator handed it out twice
		// and the earlier call's callback was overwritten: its answer can
		// no longer be delivered, so it is dropped, loudly.
		for i, old := range p.pending {
			if old.id == f.id {
				p.logf("callout %d to cluster %q: the emulator reused its id for a new call while it was outstanding; "+
					"its answer cannot be delivered (nested fan-out of callouts is not supported by the dev proxy)", old.id, old.cluster)
				p.pending = append(p.pending[:i], p.pending[i+1:]...)
				break
			}
		}
		p.pending = append(p.pending, f)
	}
}

// doCallout makes one callout over real HTTP. A nil header list means the
// call failed; the reason is logged, never the callout's headers or body.
func (p *Proxy) doCallout(ctx context.Context, c pendingCallout) ([][2]string, []byte) {
	failed := func(format string, args ...any) ([][2]string, []byte) {
		args = append([]any{c.id, c.cluster}, args...)
		p.logf("callout %d to cluster %q failed: "+format+"; the plugin sees a failed call (no headers)", args...)
		return nil, nil
	}
	cl, ok := p.clusters[c.cluster]
	if !ok {
		return failed("unknown cluster (known: %s)", strings.Join(p.clusterNames(), ", "))
	}
	var method, path, authority string
	hdr := http.Header{}
	for _, kv := range c.headers {
		switch k := strings.ToLower(kv[0]); {
		case k == ":method":
			method = kv[1]
		case k == ":path":
			path = kv[1]
		case k == ":authority":
			authority = kv[1]
		case strings.HasPrefix(k, ":"), k == "host", k == "content-length", isHopByHop(k):
		default:
			hdr.Add(k, kv[1])
		}
	}
	if method == "" || path == "" || authority == "" {
		return failed("the call lacks :method, :path or :authority (Envoy rejects such a dispatch)")
	}
	if !strings.HasPrefix(path, "/") {
		return failed(":path %q does not start with /", path)
	}
	timeout := c.timeout
	if timeout <= 0 {
		timeout = p.defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader = http.NoBody
	if len(c.body) > 0 {
		body = bytes.NewReader(c.body)
	}
	endpoint, base := cl.pick(time.Now())
	req, err := http.NewRequestWithContext(ctx, method, base.String()+path, body)
	if err != nil {
		return failed("%v", err)
	}
	req.Host = authority
	if _, ok := hdr["User-Agent"]; !ok {
		hdr["User-Agent"] = []string{""}
	}
	req.Header = hdr
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		cl.failed(endpoint, err, time.Now())
		if errors.Is(err, context.DeadlineExceeded) {
			return failed("no answer within %v", timeout)
		}
		return failed("%v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCalloutResponse+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return failed("no complete answer within %v", timeout)
		}
		return failed("reading the answer: %v", err)
	}
	if len(data) > maxCalloutResponse {
		return failed("answer larger than %d bytes", maxCalloutResponse)
	}
	if len(data) == 0 {
		data = nil
	}
	return responseHeaders(resp), data
}

func (p *Proxy) clusterNames() []string {
	names := make([]string, 0, len(p.clusters))
	for n := range p.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}
