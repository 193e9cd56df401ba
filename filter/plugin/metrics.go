package plugin

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

// Filter metrics (proxy-wasm metrics; Envoy shows them under the wasmcustom.
// prefix). Names are listed in docs/operations.md ("Filter").
//
// Request outcomes are counted in the VM's own memory and added to the
// host's counters on every tick (so at most one sync period late): the
// request path then makes no host call for its statistics. Gauges are set
// (proxy_record_metric), not added to, so that the worker VMs of one proxy,
// which share each metric, agree rather than sum.
const (
	outExempt           = iota // passed without authentication (exempt path, CORS preflight)
	outSessionCached           // session JWT found in the verified-JWT cache
	outSessionVerified         // session JWT checked with HMAC (first time in this VM)
	outCredentialCached        // header pair found in the credential cache: no issuer call
	outExchanged               // header pair exchanged with the issuer
	outForbidden               // 403
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"svcauth.requests.exempt",
	"svcauth.requests.session_cached",
	"svcauth.requests.session_verified",
	"svcauth.requests.credential_cached",
	"svcauth.requests.exchanged",
	"svcauth.requests.forbidden",
}

// Metric names that are not request outcomes.
const (
	metricUnauthorizedPrefix = "svcauth.requests.unauthorized." // + reason
	metricUnavailablePrefix  = "svcauth.requests.unavailable."  // + reason
	metricThrottledPrefix    = "svcauth.requests.throttled."    // + reason
	metricSyncOK             = "svcauth.sync.ok"
	metricSyncNotModified    = "svcauth.sync.not_modified"
	metricSyncFailed         = "svcauth.sync.failed"
	metricSyncAge            = "svcauth.sync.seconds_since_success"
	metricIssuerDown         = "svcauth.sync.issuer_down"
	metricSigningVersion     = "svcauth.keys.signing_version"
	metricKeysPublished      = "svcauth.keys.published"
	metricExchangeLatency    = "svcauth.callout.exchange_ms"
	metricSyncLatency        = "svcauth.callout.sync_ms"
	metricHeapLive           = "svcauth.vm.heap_live_bytes"
	metricMemory             = "svcauth.vm.memory_bytes"
	metricGCRuns             = "svcauth.vm.gc_runs"
)

// maxReasonMetrics bounds the distinct reason metrics a VM defines (reasons
// include the issuer's codes); further reasons count as "other".
const maxReasonMetrics = 64

// stats holds the VM's metric ids and the counts not yet flushed.
type stats struct {
	outcomes    [numOutcomes]uint64
	outcomeIDs  [numOutcomes]proxywasm.MetricCounter
	reasons     map[reasonKey]*reasonCount
	syncOK      proxywasm.MetricCounter
	syncNotMod  proxywasm.MetricCounter
	syncFailed  proxywasm.MetricCounter
	gcRuns      proxywasm.MetricCounter
	syncAge     proxywasm.MetricGauge
	issuerDown  proxywasm.MetricGauge
	signingVer  proxywasm.MetricGauge
	keysPub     proxywasm.MetricGauge
	heapLive    proxywasm.MetricGauge
	memory      proxywasm.MetricGauge
	exchangeLat proxywasm.MetricHistogram
	syncLat     proxywasm.MetricHistogram
	defined     bool
}

type reasonCount struct {
	id      proxywasm.MetricCounter
	pending uint64
}

// define registers the metrics with the host (once per plugin start).
func (s *stats) define() {
	for i, name := range outcomeNames {
		s.outcomeIDs[i] = proxywasm.DefineCounterMetric(name)
	}
	s.reasons = map[reasonKey]*reasonCount{}
	// One line per metric, on purpose: each is a name operators alert on.
	s.syncOK = proxywasm.DefineCounterMetric(metricSyncOK)
	s.syncNotMod = proxywasm.DefineCounterMetric(metricSyncNotModified)
	s.syncFailed = proxywasm.DefineCounterMetric(metricSyncFailed)
	s.gcRuns = proxywasm.DefineCounterMetric(metricGCRuns)
	s.syncAge = proxywasm.DefineGaugeMetric(metricSyncAge)
	s.issuerDown = proxywasm.DefineGaugeMetric(metricIssuerDown)
	s.signingVer = proxywasm.DefineGaugeMetric(metricSigningVersion)
	s.keysPub = proxywasm.DefineGaugeMetric(metricKeysPublished)
	s.heapLive = proxywasm.DefineGaugeMetric(metricHeapLive)
	s.memory = proxywasm.DefineGaugeMetric(metricMemory)
	s.exchangeLat = proxywasm.DefineHistogramMetric(metricExchangeLatency)
	s.syncLat = proxywasm.DefineHistogramMetric(metricSyncLatency)
	s.defined = true
}

func (s *stats) count(outcome int) { s.outcomes[outcome]++ }

// reasonKey names a refusal counter: a struct rather than a joined string,
// so that counting a refusal allocates nothing.
type reasonKey struct {
	status uint32 // 401, 429 or 503
	reason string
}

// refused counts a local reply of status (401, 403, 429 or 503) with reason.
func (s *stats) refused(status uint32, reason string) {
	if !s.defined {
		return
	}
	if status == 403 {
		s.outcomes[outForbidden]++
		return
	}
	if status != 401 && status != 429 {
		status = 503
	}
	key := reasonKey{status, reason}
	if rc, ok := s.reasons[key]; ok {
		rc.pending++
		return
	}
	if len(s.reasons) >= maxReasonMetrics {
		key.reason = "other"
		if rc, ok := s.reasons[key]; ok {
			rc.pending++
			return
		}
	}
	prefix := metricUnauthorizedPrefix
	switch status {
	case 503:
		prefix = metricUnavailablePrefix
	case 429:
		prefix = metricThrottledPrefix
	}
	s.reasons[key] = &reasonCount{id: proxywasm.DefineCounterMetric(prefix + key.reason), pending: 1}
}

// flush adds the pending counts to the host's counters.
func (s *stats) flush() {
	if !s.defined {
		return
	}
	for i, n := range s.outcomes {
		if n > 0 {
			s.outcomeIDs[i].Increment(n)
			s.outcomes[i] = 0
		}
	}
	for _, rc := range s.reasons {
		if rc.pending > 0 {
			rc.id.Increment(rc.pending)
			rc.pending = 0
		}
	}
}

// setGauge sets a gauge to v: proxy_record_metric on a gauge sets it, in
// Envoy and in the SDK's emulator alike (the SDK's MetricGauge only adds).
func setGauge(g proxywasm.MetricGauge, v int64) {
	if v < 0 {
		v = 0
	}
	proxywasm.MetricHistogram(g).Record(uint64(v))
}
