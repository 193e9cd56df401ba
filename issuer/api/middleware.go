package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/httpx"
)

type ctxKey int

const (
	ctxRequest ctxKey = iota // *requestLogger: the request's id and logger
	ctxLogger                // *slog.Logger: a logger that replaces it (with the actor)
	ctxActor
)

// logger returns the request's logger (with its request id), or the
// server's.
func (s *Server) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxLogger).(*slog.Logger); ok {
		return l
	}
	if rl, ok := ctx.Value(ctxRequest).(*requestLogger); ok {
		return rl.get()
	}
	return s.log
}

func requestID(ctx context.Context) string {
	if rl, ok := ctx.Value(ctxRequest).(*requestLogger); ok {
		return rl.id
	}
	return ""
}

func actor(ctx context.Context) string {
	a, _ := ctx.Value(ctxActor).(string)
	return a
}

// requestLogger is the request's id and its logger (the server's, with the
// request id), made on first use: most exchanges log nothing. One context
// value holds both: a request's context values are allocations per request.
type requestLogger struct {
	base *slog.Logger
	id   string
	once sync.Once
	l    *slog.Logger
}

func (r *requestLogger) get() *slog.Logger {
	r.once.Do(func() { r.l = r.base.With("request_id", r.id) })
	return r.l
}

// middleware gives every request an id (X-Request-Id, taken from the client
// when it is sane), a logger, a panic guard, JSON bodies for unknown routes
// and wrong methods, a latency observation and one log line. It never logs
// bodies, query strings or headers other than the id.
func (s *Server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, rl := s.beginRequest(r.Context(), r.Header.Get("X-Request-Id"))
		w.Header()["X-Request-Id"] = []string{rl.id} // canonical already
		r = r.WithContext(ctx)
		sw := &httpx.StatusWriter{ResponseWriter: w}

		_, pattern := mux.Handler(r)
		route := pattern
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				rl.get().Error("panic in handler", "panic", p, "route", route)
				if sw.Status == 0 {
					writeError(sw, r, s.log, domain.Errorf(domain.EInternal, "internal error"))
				}
			}
			if route == "" {
				route = "unmatched"
			}
			if elapsed, level, ok := s.endRequest(ctx, r.Method, route, sw.Status, start); ok {
				s.logRequest(ctx, rl, level, r.Method, r.URL.Path, route, sw.Status, elapsed, r.RemoteAddr)
			}
		}()

		if pattern == "" {
			// The mux would answer 404 or 405 in plain text: find out which
			// (and the Allow header), then answer in JSON.
			rec := &codeRecorder{header: http.Header{}}
			mux.ServeHTTP(rec, r)
			if allow := rec.header.Get("Allow"); allow != "" {
				sw.Header().Set("Allow", allow)
			}
			if rec.code == http.StatusMethodNotAllowed {
				writeError(sw, r, s.log, domain.Errorf(domain.EMethod, "method %s not allowed on %s", r.Method, r.URL.Path))
			} else {
				writeError(sw, r, s.log, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, r.URL.Path))
			}
			return
		}
		mux.ServeHTTP(sw, r)
		if sw.Status == 0 {
			sw.Status = http.StatusOK
		}
	})
}

// beginRequest gives a request its id (the client's X-Request-Id when it
// is sane, else a new one) and a context holding the id and the request's
// logger.
func (s *Server) beginRequest(parent context.Context, clientRequestID string) (context.Context, *requestLogger) {
	id := sanitizeRequestID(clientRequestID)
	if id == "" {
		id = httpx.NewRequestID()
	}
	rl := &requestLogger{base: s.log, id: id}
	return context.WithValue(parent, ctxRequest, rl), rl
}

// endRequest observes the request's latency and returns it, with the level
// of its log line and whether that level is logged at all.
func (s *Server) endRequest(ctx context.Context, method, route string, status int, start time.Time) (time.Duration, slog.Level, bool) {
	elapsed := time.Since(start)
	s.metrics.latency(method, route, status).Observe(elapsed.Seconds())
	level := slog.LevelInfo
	switch route {
	case "GET /healthz", "GET /readyz", "GET /metrics",
		// Machine traffic at high rates: every exchange is in the
		// audit log, and polls are counted in the metrics.
		exchangeRoute, "GET /v1/filter-sync":
		if status < 500 {
			level = slog.LevelDebug
		}
	}
	return elapsed, level, s.log.Enabled(ctx, level)
}

// logRequest writes the request's one log line (never its query string, a
// path that looks like it holds a credential, or headers).
func (s *Server) logRequest(ctx context.Context, rl *requestLogger, level slog.Level, method, path, route string, status int, elapsed time.Duration, remote string) {
	if mayHoldCredential(path) {
		path = "(redacted: looks like it holds a credential)"
	}
	rl.get().Log(ctx, level, "http request", "method", method, "path", path, "route", route,
		"status", status, "duration_ms", float64(elapsed.Microseconds())/1000, "remote", remote)
}

// sanitizeRequestID keeps a client-supplied request id only when it is
// short printable ASCII without spaces and does not look like a credential,
// so it is safe in logs and audit rows.
func sanitizeRequestID(id string) string {
	if len(id) == 0 || len(id) > 128 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return ""
		}
	}
	if mayHoldCredential(id) {
		return ""
	}
	return id
}

// mayHoldCredential reports whether s contains something shaped like a
// credential: a svcauth client secret or admin key (by prefix), a run of 64
// hex digits (a Cloudflare-style secret, a key) or a JWT. Clients control
// request ids; a careless one must not get its secret into the audit log.
func mayHoldCredential(s string) bool {
	lower := strings.ToLower(s)
	if strings.Contains(lower, "svcauth_cs_") || strings.Contains(lower, "svcauth_ak_") ||
		(strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") >= 2) {
		return true
	}
	run := 0
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
			if run++; run >= 64 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// codeRecorder captures the status and headers of the mux's own 404 and 405
// answers and discards their plain-text bodies.
type codeRecorder struct {
	header http.Header
	code   int
}

func (c *codeRecorder) Header() http.Header { return c.header }

func (c *codeRecorder) Write(b []byte) (int, error) { return len(b), nil }

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}
