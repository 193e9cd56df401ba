package api

import (
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/throttle"
)

// The exchange is the one unauthenticated endpoint that checks a secret, so
// it limits failures: after a burst of failed exchanges (401: unknown
// client, wrong secret, malformed, disabled or expired token) for one
// client id or from one source, further attempts for that key get 429
// until a failure has leaked out (throttle.Limiter). A throttled attempt is
// refused before its secret is hashed or anything is read, and a correct
// secret is refused too: otherwise the answer to a throttled attempt would
// still say which secret was right.
//
// Other clients' failures never refuse a client: a source is only charged
// its own failures, and the client-id limit does not apply to a (client
// id, source) pair that exchanged successfully within goodPairTTL, so
// someone who learnt a client id (it is not a secret) cannot lock its
// owner out by failing with it from elsewhere.

// DefaultTrustedProxies are the peers whose forwarded source address an
// exchange believes: loopback and the private ranges where Envoy sidecars
// and gateways run. Any other peer is itself the source: a caller that
// reaches the issuer directly cannot pick a new source per attempt.
var DefaultTrustedProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, also used by some CNIs
}

// goodPairTTL is how long a successful (client id, source) pair is exempt
// from its client id's limit.
const goodPairTTL = 24 * time.Hour

// Throttle keys: the label of svcauth_exchange_throttled_total.
const (
	throttleKeyClient = "client_id"
	throttleKeySource = "source"
)

type clientSource struct {
	clientID string
	source   netip.Addr
}

// exchangeGuard holds the failure limits of exchanges; nil when throttling
// is off.
type exchangeGuard struct {
	clients   *throttle.Limiter[string]
	sources   *throttle.Limiter[netip.Addr]
	good      *throttle.Recent[clientSource]
	trusted   []netip.Prefix
	throttled *prometheus.CounterVec
}

func newExchangeGuard(cfg throttle.Config, trusted []netip.Prefix, reg prometheus.Registerer) (*exchangeGuard, error) {
	if trusted == nil {
		trusted = DefaultTrustedProxies
	}
	g := &exchangeGuard{
		clients: throttle.New(cfg, strings.Clone),
		sources: throttle.New[netip.Addr](cfg, nil),
		good: throttle.NewRecent(max(cfg.MaxKeys, throttle.DefaultMaxKeys), goodPairTTL,
			func(k clientSource) clientSource { k.clientID = strings.Clone(k.clientID); return k }),
		trusted: trusted,
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcauth_exchange_throttled_total",
			Help: "Exchanges refused with 429 (too_many_failures) by the key that was over its failure limit: client_id or source.",
		}, []string{"key"}),
	}
	g.throttled.WithLabelValues(throttleKeyClient)
	g.throttled.WithLabelValues(throttleKeySource)
	return g, reg.Register(g.throttled)
}

// source is the address an exchange's failures are charged to: the
// address the filter forwards (source_ip) when the peer is a trusted
// proxy, else the peer itself. It is invalid only when neither is known
// (an in-process caller of Server.ServeHTTP without a RemoteAddr).
func (g *exchangeGuard) source(forwarded string, peer netip.Addr) netip.Addr {
	peer = peer.Unmap()
	if forwarded != "" && (!peer.IsValid() || g.trustedPeer(peer)) {
		if a, err := netip.ParseAddr(forwarded); err == nil {
			return a.Unmap()
		}
	}
	return peer
}

func (g *exchangeGuard) trustedPeer(peer netip.Addr) bool {
	for _, p := range g.trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// blocked reports which key (throttleKeySource, throttleKeyClient) of an
// exchange by clientID (valid or "") from src is over its limit, and for
// how long; "" when neither is.
func (g *exchangeGuard) blocked(clientID string, src netip.Addr, now time.Time) (string, time.Duration) {
	if src.IsValid() {
		if wait, over := g.sources.Blocked(src, now); over {
			g.throttled.WithLabelValues(throttleKeySource).Inc()
			return throttleKeySource, wait
		}
	}
	if clientID != "" {
		if wait, over := g.clients.Blocked(clientID, now); over && !g.good.Has(clientSource{clientID, src}, now) {
			g.throttled.WithLabelValues(throttleKeyClient).Inc()
			return throttleKeyClient, wait
		}
	}
	return "", 0
}

// failed charges a failed exchange to its client id and its source.
func (g *exchangeGuard) failed(clientID string, src netip.Addr, now time.Time) {
	if src.IsValid() {
		g.sources.Fail(src, now)
	}
	if clientID != "" {
		g.clients.Fail(clientID, now)
	}
}

// succeeded remembers that clientID exchanged from src.
func (g *exchangeGuard) succeeded(clientID string, src netip.Addr, now time.Time) {
	g.good.Seen(clientSource{clientID, src}, now)
}

// tooManyFailures is the 429 of an exchange throttled by key.
func tooManyFailures(key string, wait time.Duration) *domain.Error {
	what := "client id"
	if key == throttleKeySource {
		what = "source address"
	}
	return &domain.Error{
		Code: domain.ETooMany, Reason: domain.ReasonTooManyFailures, RetryAfter: wait,
		Message: "too many failed exchanges for this " + what + ": retry later",
	}
}
