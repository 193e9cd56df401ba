package plugin

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/headers"
)

// Reason codes of local replies that the filter decides itself. 401 replies
// also carry a session.Error reason or the issuer's own reason code.
const (
	reasonMissing   = headers.Missing // and the other refusals of headers.Request.Credentials
	reasonMalformed = headers.Malformed

	reasonUnauthorized = "unauthorized"      // the issuer said 401 without a usable reason
	reasonForbidden    = "forbidden"         // the issuer said 403 without a usable reason
	reasonTooMany      = "too_many_failures" // the issuer said 429 without a usable reason

	reasonIssuerUnreachable = "issuer_unreachable"  // dispatch failed, timeout, reset
	reasonIssuerBadResponse = "issuer_bad_response" // unexpected status or body, token that does not verify
	reasonNotConfigured     = "filter_not_configured"
	reasonInternal          = "internal_error" // a host call the filter depends on failed
)

var replyHeaders = [][2]string{
	{"content-type", "application/json"},
	{"cache-control", "no-store"},
}

// reply answers the request from the filter with a short JSON body
// {"error":…,"reason":…} and holds whatever of the request is still to come.
// reason is always a [a-z_] code, never client input. The returned action is
// what a request-headers callback must return; callout callbacks ignore it.
func (h *httpContext) reply(status uint32, reason string) types.Action {
	return h.replyWith(status, reason, replyHeaders)
}

// replyThrottled answers 429: the issuer refused the exchange because its
// client id or source failed too often. retryAfter is a sane delay in
// seconds (see saneRetryAfter).
func (h *httpContext) replyThrottled(reason, retryAfter string) {
	h.replyWith(429, reason, [][2]string{replyHeaders[0], replyHeaders[1], {"retry-after", retryAfter}})
}

func (h *httpContext) replyWith(status uint32, reason string, headers [][2]string) types.Action {
	h.held = true
	h.p.stats.refused(status, reason)
	var code string
	switch status {
	case 401:
		code = "unauthorized"
	case 403:
		code = "forbidden"
	case 429:
		code = "too_many_requests"
	default:
		code = "unavailable"
	}
	body := make([]byte, 0, 32+len(code)+len(reason))
	body = append(body, `{"error":"`...)
	body = append(body, code...)
	body = append(body, `","reason":"`...)
	body = append(body, reason...)
	body = append(body, `"}`...)
	if err := proxywasm.SendHttpResponse(status, headers, body, -1); err != nil {
		proxywasm.LogError("svcauth: cannot send the local reply: " + err.Error())
	}
	return types.ActionPause
}
