package ui

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names. Both are HttpOnly, SameSite=Strict, Path=/ui/, and Secure
// unless the request is on loopback.
const (
	sessionCookie = "svcauth_ui"
	// loginCookie carries the sign-in form's CSRF token before a session
	// exists (double submit).
	loginCookie = "svcauth_ui_login"
)

// setCookie writes a dashboard cookie; maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Prefix,
		HttpOnly: true,
		Secure:   !onLoopback(r),
		SameSite: http.SameSiteStrictMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// validToken compares a submitted CSRF token with the expected one in
// constant time.
func validToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// authedHandler is a handler that runs with the request's session.
type authedHandler func(w http.ResponseWriter, r *http.Request, s sessionView)

// authed runs h with the request's session. Without one, GETs go to the
// sign-in page (remembering the path) and other methods are refused; when
// the session store cannot be read, the answer is 503 and the cookie stays
// (the browser may well be signed in). Every POST must carry the session's
// CSRF token in the form field "csrf".
func (h *Handler) authed(next authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := h.sessions.get(r.Context(), cookieValue(r, sessionCookie))
		if err != nil {
			h.storeUnavailable(w, r, err, "Nothing was changed. Try again in a moment.")
			return
		}
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				target := "/ui/login"
				if p := r.URL.Path; p != "/ui/login" && safeNext(p) {
					target += "?next=" + url.QueryEscape(r.URL.RequestURI())
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			h.renderError(w, r, http.StatusForbidden, "Signed out", "Your session has ended. Sign in again, then repeat the action.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				h.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
			if !validToken(r.PostForm.Get("csrf"), s.CSRF) {
				h.log.Warn("dashboard: refused a POST without a valid CSRF token", "request_id", requestID(r), "path", r.URL.Path, "remote", r.RemoteAddr)
				h.forbidden(w, r, "The form was missing its security token, or it came from another page. Nothing was changed.")
				return
			}
		}
		next(w, r, s)
	}
}

// safeNext reports whether p may be redirected to after sign-in: a path of
// the dashboard, never another host.
func safeNext(p string) bool {
	return strings.HasPrefix(p, Prefix) && !strings.HasPrefix(p, "//") && !strings.ContainsAny(p, "\\\r\n") &&
		!strings.HasPrefix(p, "/ui/static/") && !strings.HasPrefix(p, "/ui/secret/")
}

type loginData struct {
	Next        string
	PlainRemote bool // served over plain HTTP away from loopback
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	_, ok, err := h.sessions.get(r.Context(), cookieValue(r, sessionCookie))
	if err != nil {
		h.storeUnavailable(w, r, err, "Signing in is not possible until it is back. Try again in a moment.")
		return
	}
	if ok {
		http.Redirect(w, r, "/ui/tokens", http.StatusSeeOther)
		return
	}
	info := ""
	if r.URL.Query().Get("signed_out") != "" {
		info = "You are signed out."
	}
	h.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), info)
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, errMsg, next, info string) {
	if !safeNext(pathOnly(next)) {
		next = ""
	}
	token := randomToken()
	setCookie(w, r, loginCookie, token, time.Hour)
	w.Header().Set("Cache-Control", "no-store")
	v := h.view(r, sessionView{CSRF: token}, "Sign in", "")
	v.Error = errMsg
	if info != "" {
		v.Flash = &flash{Kind: "success", Message: info}
	}
	v.Data = loginData{Next: next, PlainRemote: r.TLS == nil && !onLoopback(r)}
	h.render(w, r, status, "login", v)
}

func pathOnly(s string) string {
	p, _, _ := strings.Cut(s, "?")
	return p
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.", "", "")
		return
	}
	next := r.PostForm.Get("next")
	if !validToken(r.PostForm.Get("csrf"), cookieValue(r, loginCookie)) {
		h.log.Warn("dashboard: refused a sign-in without a valid CSRF token", "request_id", requestID(r), "remote", r.RemoteAddr)
		h.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired or came from another page. Please try again.", next, "")
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("admin_key"))
	if key == "" {
		h.renderLogin(w, r, http.StatusBadRequest, "Enter an admin key.", next, "")
		return
	}
	name, err := h.authenticate(r.Context(), key)
	if err != nil {
		h.log.Warn("dashboard: sign-in refused", "request_id", requestID(r), "remote", r.RemoteAddr)
		h.renderLogin(w, r, http.StatusUnauthorized, "That admin key is not valid (or has been revoked).", next, "")
		return
	}
	value, err := h.sessions.create(r.Context(), key, name)
	if err != nil {
		h.log.Error("dashboard: the session store is unavailable; sign-in failed", "request_id", requestID(r), "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, "The dashboard's session store is unavailable, so you could not be signed in. Try again in a moment.", next, "")
		return
	}
	setCookie(w, r, loginCookie, "", -1)
	setCookie(w, r, sessionCookie, value, h.sessions.maxAge)
	h.log.Info("dashboard: signed in", "request_id", requestID(r), "actor", name, "remote", r.RemoteAddr)
	target := "/ui/tokens"
	if safeNext(pathOnly(next)) {
		target = next
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s sessionView) {
	if err := h.sessions.delete(r.Context(), s); err != nil {
		h.storeUnavailable(w, r, err, "You are still signed in: the session could not be ended. Try Sign out again in a moment.")
		return
	}
	setCookie(w, r, sessionCookie, "", -1)
	h.log.Info("dashboard: signed out", "request_id", requestID(r), "actor", s.Actor)
	http.Redirect(w, r, "/ui/login?signed_out=1", http.StatusSeeOther)
}

// endSession signs the browser out because its admin key stopped working.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, s sessionView) {
	if err := h.sessions.delete(r.Context(), s); err != nil {
		// Its admin key no longer works, so the row serves nothing; it
		// expires with the idle timeout.
		h.log.Warn("dashboard: could not delete the session of a revoked admin key", "request_id", requestID(r), "err", err)
	}
	setCookie(w, r, sessionCookie, "", -1)
	h.renderLogin(w, r, http.StatusUnauthorized, "Your admin key is no longer valid (it may have been revoked). Sign in with another key.", "", "")
}
