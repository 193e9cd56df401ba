// Package api is the issuer's HTTP API: admin endpoints for service tokens,
// applications, policies and the audit log, the exchange endpoint the
// filter calls, health checks and metrics.
//
// One server, two ways in (docs/architecture.md has the diagram):
//
//	fasthttp listener (httpserver.go: HTTPServer)
//	  ├─ POST /v1/exchange → serveExchange: parsed and answered without
//	  │    reflection (exchangecodec.go), checked by doExchange (exchange.go)
//	  │    against the in-memory state of exchangestate.go and cache.go,
//	  │    throttled by exchangeguard.go, audited by auditwriter.go/denials.go
//	  └─ everything else → serveNetHTTP (nethttpbridge.go) → the caller's
//	       net/http handler: serve's mux of the dashboard and this Server,
//	       whose ServeHTTP routes the admin API, filter sync, /metrics and
//	       health checks (middleware.go wraps each route)
//
// Server.ServeHTTP alone is a complete net/http server too, the exchange
// included (handleExchange in exchange.go); the tests run against both.
//
// Handlers read alike on purpose: decode, validate, call the storage,
// answer, each step with its own early return (s.fail). Two handlers that
// share that shape (the duplicates report lists several) do different
// steps; a shared skeleton would hide which ones a route has.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/throttle"
)

// exchangeRoute is the route of the exchange, the one endpoint called at
// high rates (see httpserver.go).
const exchangeRoute = http.MethodPost + " " + exchangePath

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 64 << 10

// ExchangeStore is what an exchange reads. Storage satisfies it; a cache can
// wrap it without the exchange handler changing.
type ExchangeStore interface {
	GetAppByAUD(ctx context.Context, aud string) (domain.App, error)
	GetTokenByClientID(ctx context.Context, clientID string) (domain.Token, error)
	ListPolicies(ctx context.Context, appID string) ([]domain.Policy, error)
	ListAppKeys(ctx context.Context, appID string) ([]domain.AppKey, error)
}

// Config holds a Server's dependencies. Storage, Keys and IssuerURL are
// required; the rest have defaults.
type Config struct {
	Storage storage.Storage
	Keys    *keys.Keyring
	// IssuerURL is the iss claim of session JWTs.
	IssuerURL string
	Logger    *slog.Logger
	// Now is the clock every expiry decision uses.
	Now func() time.Time
	// Registry receives the server's metrics and is served at /metrics.
	// A fresh one is made when nil.
	Registry *prometheus.Registry
	// Exchange is what the exchange cache reads through; it defaults to
	// Storage.
	Exchange     ExchangeStore
	MaxBodyBytes int64
	// CacheTTL bounds how long exchanges use a token or application read
	// from memory (default DefaultCacheTTL). Changes made through this
	// server take effect at once; the TTL bounds how long changes made by
	// another issuer replica sharing the database take to be seen.
	CacheTTL time.Duration
	// AuditFlushInterval is how often exchange audit events are written
	// (default DefaultAuditFlushInterval); AuditBufferSize bounds how many
	// may wait (default DefaultAuditBufferSize; beyond, they are dropped
	// and counted, and the exchange goes on).
	AuditFlushInterval time.Duration
	AuditBufferSize    int
	// DenialWindow is how long identical exchange denials are aggregated
	// into one audit row and log line (default DefaultDenialWindow);
	// DenialRows bounds the distinct rows of a window (DefaultDenialRows).
	DenialWindow time.Duration
	DenialRows   int
	// Throttle limits failed exchanges per client id and per source
	// (zero fields: the throttle package's defaults); ThrottleOff turns
	// the limits off. TrustedProxies are the peers whose forwarded
	// source_ip is believed (nil: DefaultTrustedProxies).
	Throttle       throttle.Config
	ThrottleOff    bool
	TrustedProxies []netip.Prefix
}

// Server serves the API. Create it with New.
type Server struct {
	store     storage.Storage
	exchange  ExchangeStore
	keys      *keys.Keyring
	issuerURL string
	log       *slog.Logger
	now       func() time.Time
	registry  *prometheus.Registry
	maxBody   int64
	metrics   *metrics
	seen      *lastSeen
	epochs    *epochs
	cache     *exchangeCache
	auditw    *auditWriter
	denials   *denialAggregator
	guard     *exchangeGuard // nil when throttling is off
	sync      *syncCache
	certs     certsCache
	fast      *fastMetrics
	mux       *http.ServeMux
	patterns  []string
	handler   http.Handler
}

// New returns a Server with its routes registered and its metrics on
// cfg.Registry.
func New(cfg Config) (*Server, error) {
	if cfg.Storage == nil || cfg.Keys == nil {
		return nil, errors.New("api: Storage and Keys are required")
	}
	if cfg.IssuerURL == "" {
		return nil, errors.New("api: IssuerURL is required")
	}
	ep := &epochs{}
	s := &Server{
		store:     &invalidatingStore{Storage: cfg.Storage, epochs: ep},
		epochs:    ep,
		exchange:  cfg.Exchange,
		keys:      cfg.Keys,
		issuerURL: cfg.IssuerURL,
		log:       cfg.Logger,
		now:       cfg.Now,
		registry:  cfg.Registry,
		maxBody:   cfg.MaxBodyBytes,
		seen:      newLastSeen(),
		mux:       http.NewServeMux(),
	}
	if s.exchange == nil {
		s.exchange = cfg.Storage
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	m, err := newMetrics(s.registry, s.store, s.now)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if err := s.startExchangeState(cfg); err != nil {
		return nil, err
	}
	s.routes()
	s.handler = s.middleware(s.mux)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists the registered route patterns ("METHOD /path"), for the
// OpenAPI document check.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

func (s *Server) routes() {
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.handle("GET /v1/openapi.json", http.HandlerFunc(s.openAPI))
	s.handle(exchangeRoute, http.HandlerFunc(s.handleExchange))

	s.handle("POST /v1/service-tokens", s.admin(s.createToken))
	s.handle("GET /v1/service-tokens", s.admin(s.listTokens))
	s.handle("GET /v1/service-tokens/{id}", s.admin(s.getToken))
	s.handle("PATCH /v1/service-tokens/{id}", s.admin(s.patchToken))
	s.handle("DELETE /v1/service-tokens/{id}", s.admin(s.deleteToken))
	s.handle("POST /v1/service-tokens/{id}/refresh", s.admin(s.refreshToken))
	s.handle("POST /v1/service-tokens/{id}/rotate", s.admin(s.rotateToken))
	s.handle("POST /v1/service-tokens/import", s.admin(s.importToken))

	s.handle("POST /v1/apps", s.admin(s.createApp))
	s.handle("GET /v1/apps", s.admin(s.listApps))
	s.handle("GET /v1/apps/{id}", s.admin(s.getApp))
	s.handle("PATCH /v1/apps/{id}", s.admin(s.patchApp))
	s.handle("DELETE /v1/apps/{id}", s.admin(s.deleteApp))
	s.handle("POST /v1/apps/{id}/revoke-sessions", s.admin(s.revokeSessions))
	s.handle("GET /v1/apps/{id}/filter-config", s.admin(s.filterConfig))
	s.handle("GET /v1/apps/{id}/keys", s.admin(s.listAppKeys))
	s.handle("POST /v1/apps/{id}/keys/rotate", s.admin(s.rotateAppKey))
	s.handle("GET /v1/filter-sync", http.HandlerFunc(s.filterSync))
	s.handle("GET "+CertsPath, s.certsHandler(false))
	s.handle("GET "+JWKSPath, s.certsHandler(true))

	s.handle("POST /v1/apps/{id}/policies", s.admin(s.createPolicy))
	s.handle("GET /v1/apps/{id}/policies", s.admin(s.listPolicies))
	s.handle("GET /v1/apps/{id}/policies/{policy_id}", s.admin(s.getPolicy))
	s.handle("PATCH /v1/apps/{id}/policies/{policy_id}", s.admin(s.patchPolicy))
	s.handle("DELETE /v1/apps/{id}/policies/{policy_id}", s.admin(s.deletePolicy))

	s.handle("GET /v1/audit", s.admin(s.listAudit))

	s.handle("POST /v1/admin-keys", s.admin(s.createAdminKey))
	s.handle("GET /v1/admin-keys", s.admin(s.listAdminKeys))
	s.handle("DELETE /v1/admin-keys/{id}", s.admin(s.revokeAdminKey))
}

// AuthenticateAdminKey returns the name of the live (not revoked) admin
// key key, or an unauthorized error. The dashboard's sign-in uses it; its
// actions then go through this API with the same key.
func (s *Server) AuthenticateAdminKey(ctx context.Context, key string) (string, error) {
	return s.authenticateAdmin(ctx, "Bearer "+key)
}

// FlushLastSeen writes the last-seen times of tokens that exchanged since
// the previous flush, and the exchange audit events still queued (both are
// the exchange's batched bookkeeping). The serve command calls it on a
// timer and at exit.
func (s *Server) FlushLastSeen(ctx context.Context) error {
	if err := s.FlushAudit(ctx); err != nil {
		return err
	}
	batch := s.seen.take()
	if len(batch) == 0 {
		return nil
	}
	if err := s.store.TouchTokens(ctx, batch); err != nil {
		s.seen.putBack(batch)
		return err
	}
	return nil
}

// audit appends e, stamped with the server's clock. A failure is logged,
// not returned: the action it records has already happened.
func (s *Server) audit(ctx context.Context, e domain.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.logger(ctx).Error("audit write failed", "event", e.Event, "err", err)
	}
}
