package plugin

import (
	"errors"
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/session"
)

// Revocation and key sync (filter/SYNC-PROTOCOL.md).
//
// Every worker VM of a proxy runs the plugin; one of them per audience polls
// the issuer. On each tick (every sync_period_ms) a VM:
//
//  1. applies the shared state when its generation changed (every VM);
//  2. holds, renews or takes over the poll lease (shared data, CAS), and if it
//     holds it, dispatches GET sync_path?aud=… from the plugin context, signed
//     with x-svcauth-sync and conditional on the etag it has;
//  3. adds its pending request counts to the host's counters and updates the
//     gauges.
//
// The poller writes a 200 answer's body to shared data, then bumps the
// generation in the shared status record, and applies it itself at once.
//
// Shared data keys, per audience (prefix svcauth/v1/<aud>/):
//
//	lease   "<vm id> <beat>": the poller, and a counter it bumps every tick.
//	        Another VM that sees the same value for leaseStaleTicks of its
//	        own ticks takes the lease over with a CAS write, so a VM that
//	        stopped (or a plugin that was reconfigured away) is replaced
//	        within a few periods, without any clock.
//	state   the last 200 body, verbatim.
//	status  "<generation> <last success> <down since> <etag>": Unix seconds,
//	        0 for none; etag "-" for none.
//	cred/N  credential cache slots (credshare.go).
//
// plus svcauth/v1/vm-seq, the counter that numbers VMs.
//
// When the issuer is down the state is kept, sessions keep working, and the
// poller logs the failure once per period (one poll per period); exchanges
// still fail with 503 and log at most once per period per VM.

const leaseStaleTicks = 3

type syncer struct {
	vmID                          uint64
	leaseKey, stateKey, statusKey string
	credPrefix                    string
	holding                       bool
	lastLease                     string // the lease value last seen held by another VM
	staleTicks                    int    // ticks it has not changed
	inFlight                      bool
	sentAtMS                      int64
	retried                       bool // this tick's poll was already retried
	applied                       bool // a shared state has been applied
	appliedGen                    uint64
	appliedEtag                   string
	status                        syncStatus // as last read or written
	signingKID                    string
	exchangeLogged                bool  // an exchange failure was logged this period
	refreshedMS                   int64 // when a request last looked at the shared status
}

// refreshEveryMS is how often a request looks at the shared status between
// ticks (trusted clock only, see maybeRefresh).
const refreshEveryMS = 100

// syncStatus is the shared status record.
type syncStatus struct {
	gen         uint64
	lastSuccess int64
	downSince   int64
	etag        string
}

func (s syncStatus) encode() []byte {
	etag := s.etag
	if etag == "" {
		etag = "-"
	}
	b := make([]byte, 0, 64+len(etag))
	b = strconv.AppendUint(b, s.gen, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.lastSuccess, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.downSince, 10)
	b = append(b, ' ')
	return append(b, etag...)
}

func decodeSyncStatus(b []byte) (syncStatus, bool) {
	f := strings.Fields(string(b))
	if len(f) != 4 {
		return syncStatus{}, false
	}
	var s syncStatus
	var e1, e2, e3 error
	s.gen, e1 = strconv.ParseUint(f[0], 10, 64)
	s.lastSuccess, e2 = strconv.ParseInt(f[1], 10, 64)
	s.downSince, e3 = strconv.ParseInt(f[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return syncStatus{}, false
	}
	if f[3] != "-" {
		s.etag = f[3]
	}
	return s, true
}

// Shared data access; tests replace them to play several VMs against one
// store with Envoy's semantics.
var (
	getSharedData = proxywasm.GetSharedData
	setSharedData = proxywasm.SetSharedData
)

// sharedGet returns a key's value and CAS; a missing key is (nil, 0).
func sharedGet(key string) ([]byte, uint32, error) {
	v, cas, err := getSharedData(key)
	if errors.Is(err, types.ErrorStatusNotFound) {
		return nil, 0, nil
	}
	return v, cas, err
}

func (s *syncer) init(aud string) {
	prefix := "svcauth/v1/" + aud + "/"
	s.leaseKey, s.stateKey, s.statusKey, s.credPrefix = prefix+"lease", prefix+"state", prefix+"status", prefix+"cred/"
	s.vmID = allocateVMID()
}

// allocateVMID numbers this VM with a CAS increment of a shared counter:
// VM ids must differ across the worker VMs of one proxy, and random numbers
// are not a given (a host may seed the module's random source identically).
func allocateVMID() uint64 {
	const key = "svcauth/v1/vm-seq"
	for i := 0; i < 16; i++ {
		v, cas, err := sharedGet(key)
		if err != nil {
			break
		}
		n, _ := strconv.ParseUint(string(v), 10, 64)
		n++
		if setSharedData(key, strconv.AppendUint(nil, n, 10), cas) == nil {
			return n
		}
	}
	return 1
}

// takeLease reports whether this VM is to poll on this tick.
func (s *syncer) takeLease() bool {
	v, cas, err := sharedGet(s.leaseKey)
	if err != nil {
		s.holding = false
		return false
	}
	holder, beat := parseLease(v)
	me := s.vmID
	switch {
	case holder == me:
		s.holding = setSharedData(s.leaseKey, leaseValue(me, beat+1), cas) == nil
	case holder == 0 && v == nil:
		// First poller of this proxy. In Envoy a new key ignores the CAS, so
		// two VMs can both create it: read back who won.
		if setSharedData(s.leaseKey, leaseValue(me, 1), 0) == nil {
			v2, _, err := sharedGet(s.leaseKey)
			h2, _ := parseLease(v2)
			s.holding = err == nil && h2 == me
		}
	default:
		if holder != 0 && string(v) != s.lastLease {
			s.lastLease, s.staleTicks = string(v), 0
			s.holding = false
			return false
		}
		// Released (holder 0) or stale: take it over.
		s.staleTicks++
		if holder != 0 && s.staleTicks < leaseStaleTicks {
			s.holding = false
			return false
		}
		s.holding = setSharedData(s.leaseKey, leaseValue(me, beat+1), cas) == nil
		s.staleTicks = 0
		if s.holding {
			proxywasm.LogInfo("svcauth: this VM (" + strconv.FormatUint(me, 10) + ") now polls the issuer for revocation state")
		}
	}
	return s.holding
}

// releaseLease hands the lease back when the plugin stops, so that another
// VM takes it on its next tick.
func (s *syncer) releaseLease() {
	if !s.holding {
		return
	}
	v, cas, err := sharedGet(s.leaseKey)
	if holder, beat := parseLease(v); err == nil && holder == s.vmID {
		_ = setSharedData(s.leaseKey, leaseValue(0, beat+1), cas)
	}
	s.holding = false
}

func leaseValue(holder, beat uint64) []byte {
	b := strconv.AppendUint(make([]byte, 0, 24), holder, 10)
	b = append(b, ' ')
	return strconv.AppendUint(b, beat, 10)
}

func parseLease(v []byte) (holder, beat uint64) {
	s := string(v)
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return 0, 0
	}
	holder, _ = strconv.ParseUint(s[:i], 10, 64)
	beat, _ = strconv.ParseUint(s[i+1:], 10, 64)
	return holder, beat
}

// OnTick runs the sync cycle (see the top of this file).
func (p *pluginContext) OnTick() {
	if p.cfg == nil {
		return
	}
	p.clock.tick(p.cfg.SyncPeriodMS)
	p.refreshShared()
	if p.sync.takeLease() && !p.sync.inFlight {
		p.sync.retried = false
		p.dispatchSync()
	}
	p.updateGauges()
	p.stats.flush()
	p.sync.exchangeLogged = false
}

// maybeRefresh lets requests pick up a state the poller (another VM) has
// just shared, instead of waiting for this VM's own tick, which could make
// revocation take up to two periods in a VM that does not poll. It costs a
// clock reading per request and one small shared-data read per
// refreshEveryMS; with an untrusted clock (the emulator, one VM) the ticks
// alone apply the state.
func (p *pluginContext) maybeRefresh(wall int64) {
	now, ok := p.clock.trustedMS(wall)
	if !ok || now-p.sync.refreshedMS < refreshEveryMS {
		return
	}
	p.sync.refreshedMS = now
	p.refreshShared()
}

// refreshShared reads the shared status and, when the generation moved,
// applies the shared state.
func (p *pluginContext) refreshShared() {
	v, _, err := sharedGet(p.sync.statusKey)
	if err != nil || v == nil {
		return
	}
	st, ok := decodeSyncStatus(v)
	if !ok {
		return
	}
	p.sync.status = st
	if p.sync.applied && st.gen == p.sync.appliedGen {
		return
	}
	body, _, err := sharedGet(p.sync.stateKey)
	if err != nil || body == nil {
		return
	}
	state, perr := parseSyncState(body)
	if perr != nil {
		proxywasm.LogError("svcauth: the shared revocation state is unusable: " + perr.Error())
		return
	}
	p.applyState(state)
	p.sync.applied, p.sync.appliedGen = true, st.gen
}

// applyState makes a sync state this VM's: the revocation state (checked on
// every request), and the keys, replacing the verifier when they changed.
// When a key was dropped, both caches are emptied: their entries may hold
// sessions signed with it.
func (p *pluginContext) applyState(st *syncState) {
	st.rev.gen = p.rev.gen + 1 // caches and p.rev start afresh together (OnPluginStart)
	p.rev = st.rev
	p.sync.appliedEtag = st.etag
	if sameKeys(p.keys, st.keys) {
		return
	}
	if err := p.setKeys(st.keys); err != nil {
		proxywasm.LogError("svcauth: keeping the previous keys: the synced ones are unusable: " + err.Error())
		return
	}
	ids := make([]string, len(st.keys))
	for i, k := range st.keys {
		ids[i] = k.key.ID
	}
	proxywasm.LogInfo("svcauth: keys from the issuer: " + strings.Join(ids, ", "))
}

// dispatchSync sends the sync request from the plugin context.
func (p *pluginContext) dispatchSync() {
	c := p.cfg
	now := p.clock.now()
	key := signingKey(p.keys, now)
	p.sync.signingKID = key.key.ID
	ts := strconv.FormatInt(now, 10)
	sig := key.key.ID + ":" + ts + ":" + session.SyncMAC(key.key.Secret, c.Audience, ts)

	headers := [][2]string{
		{":method", "GET"},
		{":path", c.Issuer.SyncPath + "?aud=" + c.Audience},
		{":authority", c.Issuer.Authority},
		{"accept", "application/json"},
		{"x-svcauth-sync", sig},
	}
	if etag := p.sync.appliedEtag; etag != "" {
		headers = append(headers, [2]string{"if-none-match", `"` + etag + `"`})
	}
	timeout := min(c.Issuer.TimeoutMS, c.SyncPeriodMS)
	if _, err := dispatchHTTPCall(c.Issuer.Cluster, headers, nil, nil, timeout, p.onSyncResponse); err != nil {
		p.syncFailed("cannot call the issuer through cluster " + strconv.Quote(c.Issuer.Cluster) + ": " + err.Error())
		return
	}
	p.sync.inFlight = true
	p.sync.sentAtMS, _ = p.clock.nowMS()
}

// onSyncResponse handles the sync answer (plugin context).
func (p *pluginContext) onSyncResponse(numHeaders, bodySize, _ int) {
	p.sync.inFlight = false
	if p.cfg == nil {
		return
	}
	if now, ok := p.clock.nowMS(); ok && p.sync.sentAtMS > 0 {
		proxywasm.MetricHistogram(p.stats.syncLat).Record(uint64(max(now-p.sync.sentAtMS, 0)))
	}
	if numHeaders == 0 {
		p.syncFailed("no answer from the issuer (timeout or connection failure)")
		return
	}
	status, date := "", ""
	if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, kv := range hs {
			switch kv[0] {
			case ":status":
				status = kv[1]
			case "date":
				date = kv[1]
			}
		}
	}
	p.clock.observeHTTPDate(date)
	var body []byte
	if bodySize > 0 && bodySize <= maxSyncBody {
		body, _ = proxywasm.GetHttpCallResponseBody(0, bodySize)
	}
	switch status {
	case "200":
		st, err := parseSyncState(body)
		if err != nil {
			p.syncFailed("the issuer's sync answer is unusable: " + err.Error())
			return
		}
		p.clock.observe(st.generatedAt)
		p.publish(body, st)
	case "304":
		p.syncSucceeded(false, "")
		p.stats.syncNotMod.Increment(1)
	case "401":
		reason := issuerReason(body, reasonUnauthorized)
		if reason == "stale_sync_signature" && !p.sync.retried && date != "" {
			// The clock was off (a fake WASI clock before any request): the
			// Date header just corrected it; try once more right away.
			p.sync.retried = true
			p.dispatchSync()
			return
		}
		p.syncFailed("the issuer refused the sync request (401 " + reason + ", signed with key " +
			strconv.Quote(p.sync.signingKID) + "): is this configuration's key retired or from another issuer?")
	case "404":
		p.syncFailed("the issuer does not know audience " + p.cfg.Audience + " (404): was the application deleted?")
	default:
		p.syncFailed("unexpected answer from the issuer: status " + strconv.Quote(status))
	}
}

// publish shares a new state (the poller) and applies it here at once.
func (p *pluginContext) publish(body []byte, st *syncState) {
	for i := 0; i < 4; i++ {
		_, cas, err := sharedGet(p.sync.stateKey)
		if err != nil {
			break
		}
		if err = setSharedData(p.sync.stateKey, body, cas); err == nil {
			break
		}
	}
	p.applyState(st)
	p.syncSucceeded(true, st.etag)
	p.stats.syncOK.Increment(1)
}

// syncSucceeded records a successful poll in the shared status; changed
// bumps the generation so that every VM applies the new state.
func (p *pluginContext) syncSucceeded(changed bool, etag string) {
	now := p.clock.now()
	wasDown := p.sync.status.downSince
	st := p.updateStatus(func(s *syncStatus) {
		s.lastSuccess, s.downSince = now, 0
		if changed {
			s.gen++
			s.etag = etag
		}
	})
	if changed {
		p.sync.applied, p.sync.appliedGen = true, st.gen
	}
	if wasDown != 0 {
		proxywasm.LogInfo("svcauth: the issuer answers again after " + strconv.FormatInt(max(now-wasDown, 0), 10) +
			" s: revocation state resynced")
	}
}

// syncFailed records a failed poll and logs it: one poll per period, so one
// line per period at most.
func (p *pluginContext) syncFailed(why string) {
	now := p.clock.now()
	st := p.updateStatus(func(s *syncStatus) {
		if s.downSince == 0 {
			s.downSince = now
		}
	})
	p.stats.syncFailed.Increment(1)
	age := "no state received yet"
	if st.lastSuccess > 0 {
		age = "keeping the revocation state from " + strconv.FormatInt(max(now-st.lastSuccess, 0), 10) + " s ago"
	}
	proxywasm.LogWarn("svcauth: issuer outage: revocation sync failed: " + why + "; " + age +
		"; valid sessions keep working, new exchanges get 503 until the issuer answers")
}

// updateStatus applies edit to the shared status record with a CAS write
// (retrying on a conflict) and returns the record written.
func (p *pluginContext) updateStatus(edit func(*syncStatus)) syncStatus {
	var st syncStatus
	for i := 0; i < 4; i++ {
		v, cas, err := sharedGet(p.sync.statusKey)
		if err != nil {
			break
		}
		st = syncStatus{}
		if v != nil {
			st, _ = decodeSyncStatus(v)
		}
		edit(&st)
		if setSharedData(p.sync.statusKey, st.encode(), cas) == nil {
			break
		}
	}
	p.sync.status = st
	return st
}

// updateGauges sets the sync and key gauges from this VM's view.
func (p *pluginContext) updateGauges() {
	if !p.stats.defined {
		return
	}
	st := p.sync.status
	age := int64(0)
	if st.lastSuccess > 0 {
		age = p.clock.now() - st.lastSuccess
	}
	setGauge(p.stats.syncAge, age)
	down := int64(0)
	if st.downSince != 0 {
		down = 1
	}
	setGauge(p.stats.issuerDown, down)
	setGauge(p.stats.signingVer, signingKey(p.keys, p.clock.now()).version)
	setGauge(p.stats.keysPub, int64(len(p.keys)))
}

// exchangeUnreachable logs an exchange that got no answer: not at all while
// the sync already reports the outage (the poller logs it once per period),
// else for the first one in a period only. The unavailable counter counts
// every one.
func (p *pluginContext) exchangeUnreachable() {
	if p.sync.exchangeLogged || p.sync.status.downSince != 0 {
		return
	}
	p.sync.exchangeLogged = true
	proxywasm.LogWarn("svcauth: issuer outage: no answer to an exchange (timeout or connection failure): " +
		"answering 503; further failures in this period are counted, not logged")
}
