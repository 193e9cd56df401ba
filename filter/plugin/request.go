package plugin

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/headers"
	"github.com/svcauth/svcauth/filter/revocation"
	"github.com/svcauth/svcauth/filter/session"
)

// OnHttpRequestHeaders runs the checks of SPEC §3 in order: strip what must
// never reach the upstream, let exempt requests through, accept a valid
// session JWT, refuse unusable credentials, and otherwise exchange them.
//
// The caches make the common requests cheap: a session JWT already verified
// in this VM is found in the session cache by its exact text (no HMAC), and a
// header pair already exchanged in the credential cache by client id and
// keyed hash (no issuer call); expiry is checked against the cached claims
// and revocation with map lookups, on every request. Such a request makes
// three host calls: one that reads every header (in place: filter/headers;
// one read of the whole map costs less inside wasm than the three or four
// single-header reads that stripping and the duplicate checks need), one
// reading of the clock, and the one that sets the assertion (plus, for a
// header pair, the removal of the secret). docs/performance.md has the
// measurements.
func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	p := h.p
	c := p.cfg
	if c == nil {
		// Envoy does not run a plugin that failed to start; fail closed anyway.
		return h.reply(503, reasonNotConfigured)
	}
	wall := wallMS() // the request's one reading of the clock (one host call)
	p.maybeRefresh(wall)
	var r headers.Request
	// A malformed header map, or a header the module cannot strip: the host is
	// broken, and the request must not reach the upstream. (A map the host
	// will not hand over reads as no headers: a 401.)
	if !r.ReadRequest(&c.headers) || !stripSensitive(&r, c) {
		return h.reply(503, reasonInternal)
	}
	if exempt(&r, c) {
		p.stats.count(outExempt)
		return types.ActionContinue
	}

	var sessionErr error
	var now int64
	exact := false
	if len(r.Sessions()) > 0 {
		now = p.clock.request(wall)
		for _, tok := range r.Sessions() {
			if s, ok := p.sessions.Get(tok); ok {
				// A cached token's signature needs no second check: its
				// claims decide, and it stays cached (evicted in its turn).
				err := s.Validity(now, c.ClockSkewSeconds)
				if err != nil && !exact {
					// The cached-path clock may lag: decide on the exact time.
					now, exact = p.clock.exact(), true
					err = s.Validity(now, c.ClockSkewSeconds)
				}
				switch {
				case err != nil:
					if sessionErr == nil {
						sessionErr = err
					}
					continue
				case !p.rev.Admits(s):
					if sessionErr == nil {
						sessionErr = revocation.ErrRevoked
					}
					continue
				default:
					p.stats.count(outSessionCached)
					return h.forward(tok)
				}
			}
			if !exact {
				now, exact = p.clock.exact(), true
			}
			claims, err := p.verifier.Verify(tok, now)
			if err == nil {
				s := cache.SessionOf(claims)
				p.sessions.Put(tok, s)
				if !p.rev.Refuses(&s) {
					p.stats.count(outSessionVerified)
					return h.forward(tok)
				}
				err = revocation.ErrRevoked
			}
			if sessionErr == nil {
				sessionErr = err
			}
		}
	}

	id, secret, reason := r.Credentials()
	if reason == reasonMissing && sessionErr != nil {
		reason = sessionReason(sessionErr)
	}
	if reason != "" {
		return h.reply(401, reason)
	}
	if len(r.Sessions()) == 0 {
		now = p.clock.request(wall)
	}
	key := p.hasher.Key(id, secret)
	e, ok, malformed := p.cachedCredential(key, id, secret, now)
	switch {
	case ok:
		p.stats.count(outCredentialCached)
		return h.forward(e.JWT)
	case malformed:
		return h.reply(401, reasonMalformed)
	}
	h.start = now
	if !exact {
		h.start = p.clock.exact()
	}
	h.cred = key
	return h.exchange(id, secret)
}

// cachedCredential returns the session exchanged earlier for the credential
// pair key, from this VM's cache or else the proxy's shared table, if it is
// still usable at now, not revoked, and not possibly exchanged with a secret
// whose grace period has ended. An unusable entry is dropped, and the caller
// exchanges the credentials again: after revoke-sessions the token itself may
// still be valid, and the issuer decides. A pair this VM has not cached is
// shape-checked (headers.WellFormed) before the shared table is read, which costs a
// host call: malformed is then true, and the request gets a 401.
func (p *pluginContext) cachedCredential(key cache.CredKey, id, secret string, now int64) (e *cache.CredEntry, ok, malformed bool) {
	e, ok = p.creds.Get(key)
	if !ok {
		if !headers.WellFormed(id, secret) {
			return nil, false, true
		}
		if e, ok = p.sharedCredential(key); !ok {
			return nil, false, false
		}
		p.creds.Put(key, e)
	}
	if !e.Info.Usable(now, p.cfg.ClockSkewSeconds) || !p.rev.Admits(&e.Info) || p.rev.RetiresCredential(&e.Info, now) {
		p.creds.Remove(key)
		return nil, false, false
	}
	return e, true, false
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
func stripSensitive(r *headers.Request, c *Config) bool {
	if r.NAssertion|r.NSecret|r.NJSON == 0 {
		return true // the common case, without three calls
	}
	return removeHeader(c.AssertionHeader, r.NAssertion) &&
		removeHeader(c.ClientSecretHeader, r.NSecret) &&
		removeHeader(c.JSONCredentialsHeader, r.NJSON)
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
func exempt(r *headers.Request, c *Config) bool {
	if c.AllowCORSPreflight && r.Method == "OPTIONS" && r.HasOrigin && r.HasACRM {
		return true
	}
	if len(c.ExemptPathPrefixes) == 0 {
		return false
	}
	path := r.Path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	for _, prefix := range c.ExemptPathPrefixes {
		if strings.HasPrefix(path, prefix) {
			return plainPath(path) // checked only for a path that would be exempt
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
