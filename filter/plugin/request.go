package plugin

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/svcauth/svcauth/filter/session"
)

// OnHttpRequestHeaders runs the checks of SPEC §3 in order: strip what must
// never reach the upstream, let exempt requests through, accept a valid
// session JWT, refuse unusable credentials, and otherwise exchange them.
func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	c := h.p.cfg
	if c == nil {
		// Envoy does not run a plugin that failed to start; fail closed anyway.
		return h.reply(503, reasonNotConfigured)
	}
	hs, _ := proxywasm.GetHttpRequestHeaders() // no headers at all: treated like none of ours
	var r requestHeaders
	r.scan(hs, c)
	if !stripSensitive(&r, c) {
		return h.reply(503, reasonInternal)
	}
	if r.exempt(c) {
		return types.ActionContinue
	}

	var sessionErr error
	if r.nCandidates > 0 {
		h.start = requestTime()
	}
	for _, tok := range r.candidates[:r.nCandidates] {
		_, err := h.p.verifier.Verify(tok, h.start)
		if err == nil {
			return h.forward(tok)
		}
		if sessionErr == nil {
			sessionErr = err
		}
	}

	id, secret, reason := r.credentials()
	if reason == reasonMissing && sessionErr != nil {
		reason = sessionReason(sessionErr)
	}
	if reason != "" {
		return h.reply(401, reason)
	}
	return h.exchange(&r, id, secret)
}

// OnHttpRequestBody holds the body while the request is held. Envoy maps a
// paused header phase to StopIteration, and a body callback that answers
// Continue would send headers and body upstream before the issuer answered.
func (h *httpContext) OnHttpRequestBody(int, bool) types.Action {
	if h.held {
		return types.ActionPause
	}
	return types.ActionContinue
}

// OnHttpRequestTrailers holds trailers for the same reason.
func (h *httpContext) OnHttpRequestTrailers(int) types.Action {
	if h.held {
		return types.ActionPause
	}
	return types.ActionContinue
}

// stripSensitive removes, on every path, a client-supplied assertion (only the
// filter may set it) and the secret-bearing headers. The host removes every
// value of a name at once; removing once per value seen also covers hosts
// that remove one value per call.
func stripSensitive(r *requestHeaders, c *Config) bool {
	return removeHeader(c.AssertionHeader, r.nAssertion) &&
		removeHeader(c.ClientSecretHeader, r.nSecret) &&
		removeHeader(c.JSONCredentialsHeader, r.nJSON)
}

func removeHeader(name string, n int) bool {
	for ; n > 0; n-- {
		if err := proxywasm.RemoveHttpRequestHeader(name); err != nil {
			proxywasm.LogError("svcauth: cannot remove request header " + name + ": " + err.Error())
			return false
		}
	}
	return true
}

// forward sends the request on with its verified session as the assertion.
func (h *httpContext) forward(jwt string) types.Action {
	if err := proxywasm.ReplaceHttpRequestHeader(h.p.cfg.AssertionHeader, jwt); err != nil {
		proxywasm.LogError("svcauth: cannot set the assertion header: " + err.Error())
		return h.reply(503, reasonInternal)
	}
	return types.ActionContinue
}

// exempt reports whether the request passes untouched: a CORS preflight when
// allowed, or a path under an exempt prefix. Paths that a server might resolve
// differently from their text (dot segments, encoded dots or slashes,
// backslashes) are never exempt: they go through authentication instead.
func (r *requestHeaders) exempt(c *Config) bool {
	if c.AllowCORSPreflight && r.method == "OPTIONS" && r.hasOrigin && r.hasACRM {
		return true
	}
	if len(c.ExemptPathPrefixes) == 0 {
		return false
	}
	path := r.path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if !plainPath(path) {
		return false
	}
	for _, prefix := range c.ExemptPathPrefixes {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

func plainPath(path string) bool {
	if strings.IndexByte(path, '\\') >= 0 {
		return false
	}
	if strings.IndexByte(path, '%') >= 0 {
		lower := strings.ToLower(path)
		if strings.Contains(lower, "%2e") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return false
		}
	}
	for rest := path; rest != ""; {
		var seg string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			seg, rest = rest, ""
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func sessionReason(err error) string {
	if e, ok := err.(*session.Error); ok {
		return e.Reason
	}
	return session.ErrMalformed.Reason
}
