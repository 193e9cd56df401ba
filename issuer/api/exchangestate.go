package api

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/issuer/domain"
)

// fastMetrics are the metrics of the exchange cache, the audit writer and
// filter sync.
type fastMetrics struct {
	cacheLookups *prometheus.CounterVec
	auditDropped prometheus.Counter
	syncRequests *prometheus.CounterVec

	issued, denied, failed prometheus.Counter
}

// Results of filter sync requests (svcauth_filter_sync_requests_total).
const (
	syncOK           = "ok"
	syncNotModified  = "not_modified"
	syncUnauthorized = "unauthorized"
	syncNotFound     = "not_found"
	syncError        = "error"
)

// startExchangeState builds what the exchange keeps between requests so that
// a warm exchange reads and writes nothing in the database: the token and
// application caches, the filter sync answers, the background audit writer
// with its denial aggregator, the failure throttle, and their metrics.
func (s *Server) startExchangeState(cfg Config) error {
	m := &fastMetrics{
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcauth_exchange_cache_lookups_total",
			Help: "Exchange cache lookups by cache (token, app) and result (hit, miss: one database read).",
		}, []string{"cache", "result"}),
		auditDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svcauth_audit_events_dropped_total",
			Help: "Exchange audit events dropped because the audit buffer was full (the database did not keep up).",
		}),
		syncRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcauth_filter_sync_requests_total",
			Help: "Filter sync polls by result: ok (200), not_modified (304), unauthorized, not_found, error.",
		}, []string{"result"}),
		issued: s.metrics.exchanges.WithLabelValues(resultIssued),
		denied: s.metrics.exchanges.WithLabelValues(resultDenied),
		failed: s.metrics.exchanges.WithLabelValues(resultError),
	}
	for _, r := range []string{syncOK, syncNotModified, syncUnauthorized, syncNotFound, syncError} {
		m.syncRequests.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.cacheLookups, m.auditDropped, m.syncRequests} {
		if err := s.registry.Register(c); err != nil {
			return err
		}
	}
	s.fast = m

	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	interval := cfg.AuditFlushInterval
	if interval <= 0 {
		interval = DefaultAuditFlushInterval
	}
	size := cfg.AuditBufferSize
	if size <= 0 {
		size = DefaultAuditBufferSize
	}
	s.cache = newExchangeCache(s.exchange, s.keys, s.epochs, ttl, m.cacheLookups)
	s.sync = newSyncCache()
	// The audit writer gets the undecorated storage: it changes nothing the
	// caches hold.
	s.auditw = newAuditWriter(s.store.(*invalidatingStore).Storage, s.log, m.auditDropped, size, interval)
	window, rows := cfg.DenialWindow, cfg.DenialRows
	if window <= 0 {
		window = DefaultDenialWindow
	}
	if rows <= 0 {
		rows = DefaultDenialRows
	}
	s.denials = newDenialAggregator(s.auditw, s.log, window, rows)
	if !cfg.ThrottleOff {
		g, err := newExchangeGuard(cfg.Throttle, cfg.TrustedProxies, s.registry)
		if err != nil {
			return err
		}
		s.guard = g
	}
	return nil
}

// auditAsync queues an exchange audit event for the background writer.
func (s *Server) auditAsync(e domain.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.auditw.add(e)
}

// FlushAudit writes the exchange audit events still queued in memory.
// GET /v1/audit does it first, so a reader sees every exchange this server
// answered.
func (s *Server) FlushAudit(ctx context.Context) error {
	s.denials.drain() // ends the aggregation window early
	return s.auditw.Flush(ctx)
}

// InvalidateCaches makes the next exchanges and filter polls read tokens,
// applications, policies and keys from storage again. Changes made through
// the Server's own API invalidate by themselves; this is for changes made
// to the storage behind its back.
func (s *Server) InvalidateCaches() {
	s.epochs.tokens.Add(1)
	s.epochs.apps.Add(1)
}

// Close stops the server's background work and writes what it holds in
// memory (queued audit events, last-seen times). Call it after the HTTP
// server has shut down.
func (s *Server) Close(ctx context.Context) error {
	s.denials.close() // into the audit writer, which writes them on Close
	return errors.Join(s.auditw.Close(ctx), s.FlushLastSeen(ctx))
}

// PruneRevocations forgets revocations of deleted tokens that are older
// than the longest possible session (they can no longer matter), and
// returns how many it deleted.
func (s *Server) PruneRevocations(ctx context.Context) (int64, error) {
	return s.store.DeleteTokenRevocationsBefore(ctx, s.now().Add(-domain.MaxRevocationRetention))
}

// stampSessionsRevoked records on the token that its sessions issued up to
// now are revoked (before a delete, so the revocation keeps the issuer's
// time).
func (s *Server) stampSessionsRevoked(ctx context.Context, id string, now time.Time) error {
	_, err := s.store.UpdateToken(ctx, id, func(t domain.Token) (domain.Token, error) {
		if t.SessionsRevokedAt == nil || t.SessionsRevokedAt.Before(now) {
			t.SessionsRevokedAt = &now
		}
		return t, nil
	})
	return err
}
