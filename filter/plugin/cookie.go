package plugin

import (
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// sessionCookie is the one constructor of the session cookie: host-only,
// whole-site, never readable by scripts, HTTPS only, not sent on cross-site
// subrequests, and gone when the JWT expires.
func sessionCookie(name, jwt string, maxAge int64) string {
	b := make([]byte, 0, len(name)+len(jwt)+64)
	b = append(b, name...)
	b = append(b, '=')
	b = append(b, jwt...)
	b = append(b, "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age="...)
	b = strconv.AppendInt(b, maxAge, 10)
	return string(b)
}

// OnHttpResponseHeaders hands the client the session a successful exchange
// produced, so its next requests skip the exchange.
func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	if h.session == "" {
		return types.ActionContinue
	}
	jwt := h.session
	h.session = ""
	if maxAge := h.sessionExp - max(h.start, h.p.clock.now()); maxAge > 0 {
		if err := proxywasm.AddHttpResponseHeader("set-cookie", sessionCookie(h.p.cfg.CookieName, jwt, maxAge)); err != nil {
			proxywasm.LogError("svcauth: cannot set the session cookie: " + err.Error())
		}
	}
	return types.ActionContinue
}
