// Package ui is the Service Auth dashboard the issuer serves under /ui/:
// service tokens, applications with their policies, and the audit log.
//
// Pages are html/template files and static assets embedded in the binary
// (no CDN; it works offline). Operators sign in with an admin key; the
// dashboard keeps it in a server-side session and performs every action by
// calling the issuer's HTTP API handler in-process with that key, so
// validation, storage and audit (with the admin key's name as actor) are
// exactly the API's.
//
// Sessions are stored in the issuer's database (Config.Sessions), so that
// they survive a restart and work on whichever replica a request reaches;
// the database holds only the cookie's hash and values sealed under a key
// derived from the cookie (seal.go, sessionstore.go).
//
// Page and action handlers share one shape (fetch what the page shows, or
// call one route, then render or redirect with a message); the data two
// pages both show is fetched by one helper (appWithPolicies,
// tokenWithReferences), the rest differs in what it says.
package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/httpx"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Prefix is the path the dashboard is mounted under.
const Prefix = "/ui/"

// Defaults of Config.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
)

// Config holds a Handler's dependencies. API, Authenticate and Sessions
// are required.
type Config struct {
	// API is the issuer's HTTP API (an *api.Server). Every page reads and
	// every action writes through it, authenticated with the session's
	// admin key.
	API http.Handler
	// Authenticate returns the name of a live admin key (sign-in).
	Authenticate func(ctx context.Context, adminKey string) (string, error)
	// Sessions keeps the sign-in sessions: the issuer's storage, which
	// every replica shares. There is no in-memory fallback: sessions of one
	// process would break behind a load balancer.
	Sessions storage.UISessionStorage
	Logger   *slog.Logger
	// Now is the clock of session expiry.
	Now func() time.Time
	// IdleTimeout ends a session unused for this long; MaxAge ends any
	// session this long after sign-in.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// MaxSessions bounds the sessions kept (default 1000): a sign-in
	// beyond it ends the least recently used (as known to within a minute).
	MaxSessions int
	// Istio, when set, lets the filter configuration page show an Istio
	// WasmPlugin as well as the Envoy JSON.
	Istio *Istio
}

// Istio renders an application's Istio WasmPlugin, as `svcauth
// filter-config --format istio` does.
type Istio struct {
	// Cluster and Authority name the issuer as Istio's sidecars reach it.
	Cluster, Authority string
	// Render returns the WasmPlugin (YAML) with pluginConfig, the filter
	// configuration the API served for Cluster and Authority.
	Render func(app apiv1.App, pluginConfig json.RawMessage) ([]byte, error)
}

// Handler serves the dashboard. Create it with New.
type Handler struct {
	api          http.Handler
	authenticate func(ctx context.Context, adminKey string) (string, error)
	log          *slog.Logger
	now          func() time.Time
	istio        *Istio
	sessions     *sessionStore
	pages        *pages
	assets       *assets
	mux          *http.ServeMux
	handler      http.Handler
}

// New returns a Handler with every template parsed: a template error fails
// here, at start, not on the first request.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil || cfg.Authenticate == nil || cfg.Sessions == nil {
		return nil, errors.New("ui: API, Authenticate and Sessions are required")
	}
	h := &Handler{api: cfg.API, authenticate: cfg.Authenticate, log: cfg.Logger, now: cfg.Now, istio: cfg.Istio, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 1000
	}
	h.sessions = newSessionStore(cfg.Sessions, h.log, h.now, cfg.IdleTimeout, cfg.MaxAge, cfg.MaxSessions)
	var err error
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(h.assets); err != nil {
		return nil, err
	}
	h.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.forbidden(w, r, "This request came from another site and was refused.")
	}))
	h.handler = h.middleware(cop.Handler(h.mux))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /ui/static/", h.assets)
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/tokens", http.StatusSeeOther)
	})
	m.HandleFunc("GET /ui/login", h.loginPage)
	m.HandleFunc("POST /ui/login", h.login)
	m.HandleFunc("POST /ui/logout", h.authed(h.logout))

	m.HandleFunc("GET /ui/tokens", h.authed(h.tokensPage))
	m.HandleFunc("GET /ui/tokens/new", h.authed(h.newTokenPage))
	m.HandleFunc("POST /ui/tokens", h.authed(h.createToken))
	m.HandleFunc("GET /ui/tokens/{id}", h.authed(h.tokenPage))
	m.HandleFunc("POST /ui/tokens/{id}/rename", h.authed(h.renameToken))
	m.HandleFunc("POST /ui/tokens/{id}/refresh", h.authed(h.refreshToken))
	m.HandleFunc("POST /ui/tokens/{id}/rotate", h.authed(h.rotateToken))
	m.HandleFunc("POST /ui/tokens/{id}/enable", h.authed(h.enableToken))
	m.HandleFunc("POST /ui/tokens/{id}/disable", h.authed(h.disableToken))
	m.HandleFunc("GET /ui/tokens/{id}/delete", h.authed(h.deleteTokenPage))
	m.HandleFunc("POST /ui/tokens/{id}/delete", h.authed(h.deleteToken))
	m.HandleFunc("GET /ui/secret/{slot}", h.authed(h.secretPage))

	m.HandleFunc("GET /ui/apps", h.authed(h.appsPage))
	m.HandleFunc("GET /ui/apps/new", h.authed(h.newAppPage))
	m.HandleFunc("POST /ui/apps", h.authed(h.createApp))
	m.HandleFunc("GET /ui/apps/{id}", h.authed(h.appPage))
	m.HandleFunc("POST /ui/apps/{id}", h.authed(h.updateApp))
	m.HandleFunc("GET /ui/apps/{id}/filter-config", h.authed(h.filterConfigPage))
	m.HandleFunc("GET /ui/apps/{id}/revoke-sessions", h.authed(h.revokeSessionsPage))
	m.HandleFunc("POST /ui/apps/{id}/revoke-sessions", h.authed(h.revokeSessions))
	m.HandleFunc("GET /ui/apps/{id}/delete", h.authed(h.deleteAppPage))
	m.HandleFunc("POST /ui/apps/{id}/delete", h.authed(h.deleteApp))
	m.HandleFunc("GET /ui/apps/{id}/policies/new", h.authed(h.newPolicyPage))
	m.HandleFunc("POST /ui/apps/{id}/policies", h.authed(h.createPolicy))
	m.HandleFunc("GET /ui/apps/{id}/policies/{pid}", h.authed(h.editPolicyPage))
	m.HandleFunc("POST /ui/apps/{id}/policies/{pid}", h.authed(h.updatePolicy))
	m.HandleFunc("POST /ui/apps/{id}/policies/{pid}/move", h.authed(h.movePolicy))
	m.HandleFunc("GET /ui/apps/{id}/policies/{pid}/delete", h.authed(h.deletePolicyPage))
	m.HandleFunc("POST /ui/apps/{id}/policies/{pid}/delete", h.authed(h.deletePolicy))

	m.HandleFunc("GET /ui/audit", h.authed(h.auditPage))

	m.HandleFunc("/ui/", h.notFound)
}

type ctxKey int

const ctxRequestID ctxKey = iota

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxRequestID).(string)
	return id
}

// middleware sets the security headers of every answer, gives the request
// an id, guards against panics and logs one line per request: method, path
// (which never holds a secret: secrets travel only in POST bodies and
// server-side slots) and status.
func (h *Handler) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := httpx.NewRequestID()
		r = r.WithContext(context.WithValue(r.Context(), ctxRequestID, id))
		hd := w.Header()
		hd.Set("X-Request-Id", id)
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		sw := &httpx.StatusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.Error("panic in dashboard handler", "request_id", id, "panic", fmt.Sprint(p), "path", r.URL.Path)
				if sw.Status == 0 {
					h.renderError(sw, r, http.StatusInternalServerError, "Something went wrong", "The dashboard hit an internal error. Details are in the issuer's log (request "+id+").")
				}
			}
			level := slog.LevelInfo
			if strings.HasPrefix(r.URL.Path, "/ui/static/") {
				level = slog.LevelDebug
			}
			h.log.Log(r.Context(), level, "dashboard request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.Status, "duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r)
	})
}

// onLoopback reports whether r came over plain HTTP from this machine to a
// loopback host name: the only case where the session cookie is not Secure
// (browsers would not keep it otherwise on http://127.0.0.1).
func onLoopback(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	name := r.Host
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}
