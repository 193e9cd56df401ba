package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// Bounds of one-time secret slots.
const (
	maxSlotsPerSession = 8
	slotTTL            = 15 * time.Minute
)

// session is one signed-in browser. It lives only in memory.
type session struct {
	key      string // sha256 of the cookie value, the map key
	adminKey string // used as the bearer key of the session's API calls
	actor    string // the admin key's name
	csrf     string
	created  time.Time
	lastUsed time.Time
	flash    *flash
	slots    map[string]*oneTime
}

// flash is a message shown once on the next page.
type flash struct {
	Kind    string // "success" or "error"
	Message string
}

// oneTime is a client secret waiting to be shown once.
type oneTime struct {
	TokenID      string
	TokenName    string
	ClientID     string
	ClientSecret string
	Rotated      bool
	// PreviousUntil is when the rotated-out secret stops working (nil:
	// it already has).
	PreviousUntil *time.Time
	created       time.Time
}

// sessionView is a copy of a session's fields for one request.
type sessionView struct {
	key      string
	adminKey string
	Actor    string
	CSRF     string
}

type sessionStore struct {
	mu          sync.Mutex
	now         func() time.Time
	idle        time.Duration
	maxAge      time.Duration
	maxSessions int
	byKey       map[string]*session
}

func newSessionStore(now func() time.Time, idle, maxAge time.Duration, maxSessions int) *sessionStore {
	return &sessionStore{now: now, idle: idle, maxAge: maxAge, maxSessions: maxSessions, byKey: map[string]*session{}}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashCookie(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func (st *sessionStore) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastUsed) >= st.idle || now.Sub(s.created) >= st.maxAge
}

// create starts a session and returns its cookie value.
func (st *sessionStore) create(adminKey, actor string) (string, time.Time) {
	value := randomToken()
	now := st.now()
	s := &session{key: hashCookie(value), adminKey: adminKey, actor: actor, csrf: randomToken(), created: now, lastUsed: now,
		slots: map[string]*oneTime{}}
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, old := range st.byKey {
		if st.expired(old, now) {
			delete(st.byKey, k)
		}
	}
	for len(st.byKey) >= st.maxSessions {
		var lru *session
		for _, old := range st.byKey {
			if lru == nil || old.lastUsed.Before(lru.lastUsed) {
				lru = old
			}
		}
		delete(st.byKey, lru.key)
	}
	st.byKey[s.key] = s
	return value, now.Add(st.maxAge)
}

// get returns the live session of cookie value v and marks it used.
func (st *sessionStore) get(v string) (sessionView, bool) {
	if v == "" {
		return sessionView{}, false
	}
	k := hashCookie(v)
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byKey[k]
	if !ok {
		return sessionView{}, false
	}
	if st.expired(s, now) {
		delete(st.byKey, k)
		return sessionView{}, false
	}
	s.lastUsed = now
	return sessionView{key: s.key, adminKey: s.adminKey, Actor: s.actor, CSRF: s.csrf}, true
}

func (st *sessionStore) delete(key string) {
	st.mu.Lock()
	delete(st.byKey, key)
	st.mu.Unlock()
}

func (st *sessionStore) setFlash(key, kind, message string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.byKey[key]; ok {
		s.flash = &flash{Kind: kind, Message: message}
	}
}

func (st *sessionStore) takeFlash(key string) *flash {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byKey[key]
	if !ok {
		return nil
	}
	f := s.flash
	s.flash = nil
	return f
}

// putSecret stores o for one showing and returns the slot's id, which is
// a random handle (not the secret) valid only with this session.
func (st *sessionStore) putSecret(key string, o oneTime) string {
	id := randomToken()[:22]
	now := st.now()
	o.created = now
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byKey[key]
	if !ok {
		return ""
	}
	for k, old := range s.slots {
		if now.Sub(old.created) >= slotTTL {
			delete(s.slots, k)
		}
	}
	for len(s.slots) >= maxSlotsPerSession {
		var oldest string
		for k, old := range s.slots {
			if oldest == "" || old.created.Before(s.slots[oldest].created) {
				oldest = k
			}
		}
		delete(s.slots, oldest)
	}
	s.slots[id] = &o
	return id
}

// takeSecret returns the slot's secret and empties the slot: a second call
// finds nothing.
func (st *sessionStore) takeSecret(key, id string) (oneTime, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byKey[key]
	if !ok {
		return oneTime{}, false
	}
	o, ok := s.slots[id]
	if !ok {
		return oneTime{}, false
	}
	delete(s.slots, id)
	if st.now().Sub(o.created) >= slotTTL {
		return oneTime{}, false
	}
	return *o, true
}

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
// sign-in page (remembering the path) and other methods are refused. Every
// POST must carry the session's CSRF token in the form field "csrf".
func (h *Handler) authed(next authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.sessions.get(cookieValue(r, sessionCookie))
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
	if _, ok := h.sessions.get(cookieValue(r, sessionCookie)); ok {
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
	value, _ := h.sessions.create(key, name)
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
	h.sessions.delete(s.key)
	setCookie(w, r, sessionCookie, "", -1)
	h.log.Info("dashboard: signed out", "request_id", requestID(r), "actor", s.Actor)
	http.Redirect(w, r, "/ui/login?signed_out=1", http.StatusSeeOther)
}

// endSession signs the browser out because its admin key stopped working.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.sessions.delete(s.key)
	setCookie(w, r, sessionCookie, "", -1)
	h.renderLogin(w, r, http.StatusUnauthorized, "Your admin key is no longer valid (it may have been revoked). Sign in with another key.", "", "")
}
