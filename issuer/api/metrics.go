package api

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Exchange results, the values of svcauth_exchanges_total's result label.
const (
	resultIssued = "issued"
	resultDenied = "denied"
	resultError  = "error"
)

type metrics struct {
	exchanges       *prometheus.CounterVec
	denials         *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	// observers are requestDuration's series by latencyKey, resolved once:
	// a label lookup (and formatting the status) costs more than the
	// observation, on every request.
	observers sync.Map
}

type latencyKey struct {
	method, route string
	status        int
}

// latency is the requestDuration series of a request.
func (m *metrics) latency(method, route string, status int) prometheus.Observer {
	k := latencyKey{method, route, status}
	if o, ok := m.observers.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := m.requestDuration.WithLabelValues(method, route, strconv.Itoa(status))
	m.observers.Store(k, o)
	return o
}

func newMetrics(reg prometheus.Registerer, store storage.Storage, now func() time.Time) (*metrics, error) {
	m := &metrics{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcauth_exchanges_total",
			Help: "Credential exchanges by result: issued, denied (401/403/429) or error (bad request, unknown app, internal).",
		}, []string{"result"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcauth_exchange_denials_total",
			Help: "Denied exchanges by reason.",
		}, []string{"reason"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "svcauth_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "code"}),
	}
	for _, r := range []string{resultIssued, resultDenied, resultError} {
		m.exchanges.WithLabelValues(r)
	}
	dbSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "svcauth_database_size_bytes",
		Help: "Space the issuer's database takes (-1 when it cannot be read); the audit log is what grows, bounded by --audit-retention.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := store.SizeBytes(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.exchanges, m.denials, m.requestDuration, newTokenCollector(store, now), dbSize} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// tokenCollector reports token counts by status at scrape time.
type tokenCollector struct {
	store    storage.Storage
	now      func() time.Time
	byStatus *prometheus.Desc
	expiring *prometheus.Desc
	up       *prometheus.Desc
}

func newTokenCollector(store storage.Storage, now func() time.Time) *tokenCollector {
	return &tokenCollector{
		store: store,
		now:   now,
		byStatus: prometheus.NewDesc("svcauth_service_tokens", "Service tokens by status (active, expiring, expired, disabled).",
			[]string{"status"}, nil),
		expiring: prometheus.NewDesc("svcauth_service_tokens_expiring_soon",
			"Enabled service tokens that expire within 7 days and have not expired yet.", nil, nil),
		up: prometheus.NewDesc("svcauth_storage_up", "1 when the last scrape could read the storage.", nil, nil),
	}
}

func (c *tokenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byStatus
	ch <- c.expiring
	ch <- c.up
}

func (c *tokenCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tokens, err := c.store.ListTokens(ctx, storage.TokenFilter{})
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	now := c.now()
	counts := map[string]int{domain.StatusActive: 0, domain.StatusExpiring: 0, domain.StatusExpired: 0, domain.StatusDisabled: 0}
	for i := range tokens {
		counts[tokens[i].Status(now)]++
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.byStatus, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(c.expiring, prometheus.GaugeValue, float64(counts[domain.StatusExpiring]))
}

// lastSeen collects the time of each token's last successful exchange in
// memory, so the exchange path does not write to the database for it.
type lastSeen struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newLastSeen() *lastSeen { return &lastSeen{seen: map[string]time.Time{}} }

func (l *lastSeen) mark(tokenID string, t time.Time) {
	l.mu.Lock()
	if old, ok := l.seen[tokenID]; !ok || t.After(old) {
		l.seen[tokenID] = t
	}
	l.mu.Unlock()
}

func (l *lastSeen) take() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return nil
	}
	out := l.seen
	l.seen = map[string]time.Time{}
	return out
}

func (l *lastSeen) putBack(batch map[string]time.Time) {
	for id, t := range batch {
		l.mark(id, t)
	}
}
