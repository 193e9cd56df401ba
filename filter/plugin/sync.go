package plugin

import (
	"errors"
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/revocation"
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
//	lease   the poll lease (revocation.Lease)
//	state   the last 200 body, verbatim
//	status  the status record (revocation.Status)
//	cred/N  credential cache slots (credshare.go, cache.EncodeShared)
//
// plus svcauth/v1/vm-seq, the counter that numbers VMs.
//
// When the issuer is down the state is kept, sessions keep working, and the
// poller logs the failure once per period (one poll per period); exchanges
// still fail with 503 and log at most once per period per VM.

type syncer struct {
	lease               revocation.Lease
	stateKey, statusKey string
	credPrefix          string
	hashKeyName         string // the credential hash's key (cache.SharedHashKey)
	inFlight            bool
	sentAtMS            int64
	retried             bool // this tick's poll was already retried
	applied             bool // a shared state has been applied
	appliedGen          uint64
	appliedEtag         string
	status              revocation.Status // as last read or written
	signingKID          string
	exchangeLogged      bool  // an exchange failure was logged this period
	refreshedMS         int64 // when a request last looked at the shared status
}

// refreshEveryMS is how often a request looks at the shared status between
// ticks (trusted clock only, see maybeRefresh).
const refreshEveryMS = 100

// sharedData is proxy shared data as a revocation.Store: a missing key is
// (nil, 0, nil). The filter calls it directly (shared.Get); the lease holds
// it as a Store, so that its tests play several VMs against a fake one.
type sharedData struct{}

var shared sharedData

func (sharedData) Get(key string) ([]byte, uint32, error) {
	v, cas, err := proxywasm.GetSharedData(key)
	if errors.Is(err, types.ErrorStatusNotFound) {
		return nil, 0, nil
	}
	return v, cas, err
}

func (sharedData) Set(key string, value []byte, cas uint32) error {
	return proxywasm.SetSharedData(key, value, cas)
}

func (s *syncer) init(aud string) {
	prefix := "svcauth/v1/" + aud + "/"
	s.stateKey, s.statusKey, s.credPrefix = prefix+"state", prefix+"status", prefix+"cred/"
	s.hashKeyName = prefix + "credkey"
	s.lease = revocation.NewLease(shared, prefix+"lease", revocation.AllocateVMID(shared, "svcauth/v1/vm-seq"))
}

// takeLease reports whether this VM is to poll on this tick.
func (s *syncer) takeLease() bool {
	poll, tookOver := s.lease.Take()
	if tookOver {
		proxywasm.LogInfo("svcauth: this VM (" + strconv.FormatUint(s.lease.VMID(), 10) + ") now polls the issuer for revocation state")
	}
	return poll
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
	v, _, err := shared.Get(p.sync.statusKey)
	if err != nil || v == nil {
		return
	}
	st, ok := revocation.DecodeStatus(v)
	if !ok {
		return
	}
	p.sync.status = st
	if p.sync.applied && st.Gen == p.sync.appliedGen {
		return
	}
	body, _, err := shared.Get(p.sync.stateKey)
	if err != nil || body == nil {
		return
	}
	state, perr := revocation.ParseSync(body)
	if perr != nil {
		proxywasm.LogError("svcauth: the shared revocation state is unusable: " + perr.Error())
		return
	}
	p.applyState(state)
	p.sync.applied, p.sync.appliedGen = true, st.Gen
}

// applyState makes a sync state this VM's: the revocation state (checked on
// every request), and the keys, replacing the verifier when they changed.
// When a key was dropped, both caches are emptied: their entries may hold
// sessions signed with it.
func (p *pluginContext) applyState(st *revocation.Sync) {
	p.rev = st.State.Install(p.rev) // caches and p.rev start afresh together (OnPluginStart)
	p.sync.appliedEtag = st.ETag
	if revocation.SameKeys(p.keys, st.Keys) {
		return
	}
	if err := p.setKeys(st.Keys); err != nil {
		proxywasm.LogError("svcauth: keeping the previous keys: the synced ones are unusable: " + err.Error())
		return
	}
	ids := make([]string, len(st.Keys))
	for i, k := range st.Keys {
		ids[i] = k.Key.ID
	}
	proxywasm.LogInfo("svcauth: keys from the issuer: " + strings.Join(ids, ", "))
}

// dispatchSync sends the sync request from the plugin context.
func (p *pluginContext) dispatchSync() {
	c := p.cfg
	now := p.clock.now()
	headers := [][2]string{
		{":method", "GET"},
		{":path", c.Issuer.SyncPath + "?aud=" + c.Audience},
		{":authority", c.Issuer.Authority},
		{"accept", "application/json"},
	}
	// Signed with the newest active HS256 key; a filter that holds only
	// RS256 public keys has no secret, and polls unsigned (the issuer then
	// answers with nothing secret in it).
	p.sync.signingKID = ""
	if key, ok := revocation.SyncSigningKey(p.keys, now); ok {
		p.sync.signingKID = key.Key.ID
		ts := strconv.FormatInt(now, 10)
		headers = append(headers, [2]string{"x-svcauth-sync", key.Key.ID + ":" + ts + ":" + session.SyncMAC(key.Key.Secret, c.Audience, ts)})
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
	status, date, body := calloutAnswer(bodySize, revocation.MaxBody, "date")
	p.clock.observeHTTPDate(date)
	switch status {
	case "200":
		st, err := revocation.ParseSync(body)
		if err != nil {
			p.syncFailed("the issuer's sync answer is unusable: " + err.Error())
			return
		}
		p.clock.observe(st.GeneratedAt)
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
		if p.sync.signingKID == "" {
			p.syncFailed("the issuer refused the unsigned sync request (401 " + reason +
				"): this configuration holds no HS256 key, and the issuer answers unsigned polls only for applications with an RS256 key")
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
func (p *pluginContext) publish(body []byte, st *revocation.Sync) {
	for i := 0; i < 4; i++ {
		_, cas, err := shared.Get(p.sync.stateKey)
		if err != nil {
			break
		}
		if err = shared.Set(p.sync.stateKey, body, cas); err == nil {
			break
		}
	}
	p.applyState(st)
	p.syncSucceeded(true, st.ETag)
	p.stats.syncOK.Increment(1)
}

// syncSucceeded records a successful poll in the shared status; changed
// bumps the generation so that every VM applies the new state.
func (p *pluginContext) syncSucceeded(changed bool, etag string) {
	now := p.clock.now()
	wasDown := p.sync.status.DownSince
	st := p.updateStatus(func(s *revocation.Status) {
		s.LastSuccess, s.DownSince = now, 0
		if changed {
			s.Gen++
			s.ETag = etag
		}
	})
	if changed {
		p.sync.applied, p.sync.appliedGen = true, st.Gen
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
	st := p.updateStatus(func(s *revocation.Status) {
		if s.DownSince == 0 {
			s.DownSince = now
		}
	})
	p.stats.syncFailed.Increment(1)
	age := "no state received yet"
	if st.LastSuccess > 0 {
		age = "keeping the revocation state from " + strconv.FormatInt(max(now-st.LastSuccess, 0), 10) + " s ago"
	}
	proxywasm.LogWarn("svcauth: issuer outage: revocation sync failed: " + why + "; " + age +
		"; valid sessions keep working, new exchanges get 503 until the issuer answers")
}

// updateStatus applies edit to the shared status record with a CAS write
// (retrying on a conflict) and returns the record written.
func (p *pluginContext) updateStatus(edit func(*revocation.Status)) revocation.Status {
	var st revocation.Status
	for i := 0; i < 4; i++ {
		v, cas, err := shared.Get(p.sync.statusKey)
		if err != nil {
			break
		}
		st = revocation.Status{}
		if v != nil {
			st, _ = revocation.DecodeStatus(v)
		}
		edit(&st)
		if shared.Set(p.sync.statusKey, st.Encode(), cas) == nil {
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
	if st.LastSuccess > 0 {
		age = p.clock.now() - st.LastSuccess
	}
	setGauge(p.stats.syncAge, age)
	down := int64(0)
	if st.DownSince != 0 {
		down = 1
	}
	setGauge(p.stats.issuerDown, down)
	setGauge(p.stats.signingVer, revocation.SigningKey(p.keys, p.clock.now()).Version)
	setGauge(p.stats.keysPub, int64(len(p.keys)))
}

// exchangeUnreachable logs an exchange that got no answer: not at all while
// the sync already reports the outage (the poller logs it once per period),
// else for the first one in a period only. The unavailable counter counts
// every one.
func (p *pluginContext) exchangeUnreachable() {
	if p.sync.exchangeLogged || p.sync.status.DownSince != 0 {
		return
	}
	p.sync.exchangeLogged = true
	proxywasm.LogWarn("svcauth: issuer outage: no answer to an exchange (timeout or connection failure): " +
		"answering 503; further failures in this period are counted, not logged")
}
