package plugin

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"

	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/internal/syntax"
	"github.com/svcauth/svcauth/filter/jsonstr"
)

// dispatchHTTPCall is proxywasm.DispatchHttpCall; tests replace it to see a
// dispatch fail, which the SDK's emulator never does.
var dispatchHTTPCall = proxywasm.DispatchHttpCall

// maxIssuerBody bounds the exchange answer the filter reads: a session JWT
// is at most 2 KiB.
const maxIssuerBody = 8 << 10

// maxRequestIDLength bounds the x-request-id forwarded to the issuer.
const maxRequestIDLength = 200

var sourceAddressProperty = []string{"source", "address"}

// exchange pauses the request and asks the issuer to turn the credentials into
// a session (POST exchange_path on the issuer cluster). onExchangeResponse
// ends the request: exactly one resume or one local reply.
func (h *httpContext) exchange(id, secret string) types.Action {
	c := h.p.cfg
	// Read here rather than in the header scan: only exchanges need it.
	requestID, _ := proxywasm.GetHttpRequestHeader("x-request-id")
	if len(requestID) > maxRequestIDLength || !syntax.VisibleASCII(requestID) {
		requestID = ""
	}
	headers := make([][2]string, 4, 5)
	headers[0] = [2]string{":method", "POST"}
	headers[1] = [2]string{":path", c.Issuer.ExchangePath}
	headers[2] = [2]string{":authority", c.Issuer.Authority}
	headers[3] = [2]string{"content-type", "application/json"}
	if requestID != "" {
		headers = append(headers, [2]string{"x-request-id", requestID})
	}
	body := appendExchangeBody(make([]byte, 0, 320), id, secret, c.Audience, sourceIP(), requestID)
	_, err := dispatchHTTPCall(c.Issuer.Cluster, headers, body, nil, c.Issuer.TimeoutMS, h.onExchangeResponse)
	clear(body) // the host has copied it; do not leave the secret in the heap
	h.sentAtMS, _ = h.p.clock.nowMS()
	if err != nil {
		proxywasm.LogError("svcauth: cannot call the issuer through cluster " + strconv.Quote(c.Issuer.Cluster) +
			" (is it defined in Envoy?): " + err.Error())
		return h.reply(503, reasonIssuerUnreachable)
	}
	h.held, h.awaiting = true, true
	return types.ActionPause
}

// appendExchangeBody appends the JSON body of POST /v1/exchange.
func appendExchangeBody(b []byte, id, secret, aud, sourceIP, requestID string) []byte {
	b = append(b, `{"client_id":`...)
	b = jsonstr.Append(b, id)
	b = append(b, `,"client_secret":`...)
	b = jsonstr.Append(b, secret)
	b = append(b, `,"aud":`...)
	b = jsonstr.Append(b, aud)
	if sourceIP != "" {
		b = append(b, `,"source_ip":`...)
		b = jsonstr.Append(b, sourceIP)
	}
	if requestID != "" {
		b = append(b, `,"request_id":`...)
		b = jsonstr.Append(b, requestID)
	}
	return append(b, '}')
}

// sourceIP returns the downstream address without its port, or "" when the
// host does not say.
func sourceIP() string {
	b, err := proxywasm.GetProperty(sourceAddressProperty)
	if err != nil || len(b) == 0 || len(b) > 64 {
		return ""
	}
	s := string(b)
	if !syntax.VisibleASCII(s) {
		return ""
	}
	if s[0] == '[' { // [v6]:port
		for i := 1; i < len(s); i++ {
			if s[i] == ']' {
				return s[1:i]
			}
		}
		return ""
	}
	colon := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			if colon >= 0 {
				return s // bare IPv6, no port
			}
			colon = i
		}
	}
	if colon >= 0 {
		return s[:colon]
	}
	return s
}

// onExchangeResponse maps the issuer's answer to the end of the request:
// 200 with a session that verifies → resume; 401/403/429 → the same status
// locally; anything else, including no answer at all → 503. Only a 200 is
// remembered: a refusal, throttling included, is asked again next time, so a
// client that waits out its Retry-After is not refused from a cache.
func (h *httpContext) onExchangeResponse(numHeaders, bodySize, _ int) {
	if now, ok := h.p.clock.nowMS(); ok && h.sentAtMS > 0 && h.p.stats.defined {
		proxywasm.MetricHistogram(h.p.stats.exchangeLat).Record(uint64(max(now-h.sentAtMS, 0)))
	}
	h.awaiting = false
	if h.finished {
		return // the client went away first: no request to resume or answer
	}
	if numHeaders == 0 {
		h.p.exchangeUnreachable()
		h.reply(503, reasonIssuerUnreachable)
		return
	}
	status, retryAfter, body := calloutAnswer(bodySize, maxIssuerBody, "retry-after")
	switch status {
	case "200":
		h.acceptSession(body)
	case "401":
		h.reply(401, issuerReason(body, reasonUnauthorized))
	case "403":
		h.reply(403, issuerReason(body, reasonForbidden))
	case "429":
		h.replyThrottled(issuerReason(body, reasonTooMany), saneRetryAfter(retryAfter))
	case "404":
		proxywasm.LogError("svcauth: the issuer does not know audience " + h.p.cfg.Audience +
			" (404): was the application deleted, or is this configuration stale?")
		h.reply(503, reasonIssuerBadResponse)
	default:
		proxywasm.LogError("svcauth: unexpected answer from the issuer: status " + strconv.Quote(status))
		h.reply(503, reasonIssuerBadResponse)
	}
}

// acceptSession checks the issuer's 200 answer with the filter's own keys
// before trusting it: a token the filter cannot verify would fail on the
// client's next request anyway, and means filter and issuer disagree on keys.
func (h *httpContext) acceptSession(body []byte) {
	jwt := ""
	if gjson.ValidBytes(body) {
		if v := gjson.GetBytes(body, "jwt"); v.Type == gjson.String {
			jwt = v.Str
		}
	}
	if jwt == "" {
		proxywasm.LogError("svcauth: the issuer answered 200 without a session token")
		h.reply(503, reasonIssuerBadResponse)
		return
	}
	p := h.p
	claims, err := p.verifier.Verify(jwt, max(h.start, p.clock.now()))
	if err != nil {
		proxywasm.LogError("svcauth: issuer-signed token does not verify: key mismatch? (" + sessionReason(err) + ")")
		h.reply(503, reasonIssuerBadResponse)
		return
	}
	if h.forward(jwt) != types.ActionContinue {
		return // answered 503
	}
	h.session, h.sessionExp = jwt, claims.ExpiresAt
	h.held = false
	p.stats.count(outExchanged)
	// Remember the session: the cookie's next request is a session cache hit,
	// and the same header pair a credential cache hit, in this VM and (via
	// shared data) in the proxy's other VMs. jwt is gjson's copy, not a
	// slice of the whole answer body.
	s := cache.SessionOf(claims)
	p.sessions.Put(jwt, s)
	e := &cache.CredEntry{JWT: jwt, KID: jwtKid(jwt), Info: s}
	p.creds.Put(h.cred, e)
	p.shareCredential(h.cred, e)
	if err := proxywasm.ResumeHttpRequest(); err != nil {
		proxywasm.LogError("svcauth: cannot resume the request: " + err.Error())
	}
}

// Bounds of the Retry-After the filter passes on. The issuer's own is a few
// seconds; a missing, malformed (an HTTP date included: the issuer never
// sends one) or absurd value must neither tell clients to retry at once nor
// to stay away for hours.
const (
	defaultRetryAfter = "10"
	maxRetryAfter     = 3600
)

// saneRetryAfter returns the issuer's Retry-After when it is whole seconds
// from 1 to maxRetryAfter, maxRetryAfter when it is larger, and
// defaultRetryAfter otherwise (ParseUint takes no sign, space or unit).
func saneRetryAfter(v string) string {
	n, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && n > maxRetryAfter:
		return strconv.Itoa(maxRetryAfter)
	case err != nil || n == 0: // zero: "retry at once" is what throttling must not say
		return defaultRetryAfter
	}
	return strconv.FormatUint(n, 10) // without leading zeros
}

// issuerReason returns the issuer's reason code when it has the shape of one
// ([a-z_]{1,40}), so the filter never echoes arbitrary upstream text.
func issuerReason(body []byte, fallback string) string {
	if !gjson.ValidBytes(body) {
		return fallback
	}
	v := gjson.GetBytes(body, "reason")
	if v.Type != gjson.String || len(v.Str) == 0 || len(v.Str) > 40 {
		return fallback
	}
	for i := 0; i < len(v.Str); i++ {
		if c := v.Str[i]; (c < 'a' || c > 'z') && c != '_' {
			return fallback
		}
	}
	return v.Str
}

// jwtKid returns the kid of a JWT's header (one that verified).
func jwtKid(jwt string) string {
	i := strings.IndexByte(jwt, '.')
	if i <= 0 {
		return ""
	}
	header, err := base64.RawURLEncoding.DecodeString(jwt[:i])
	if err != nil {
		return ""
	}
	return gjson.GetBytes(header, "kid").String()
}
