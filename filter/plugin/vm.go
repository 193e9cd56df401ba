// Package plugin is the svcauth proxy-wasm filter: the proxy-wasm callbacks
// and the decision on each request. It checks session JWTs in the filter and
// exchanges service-token credentials for new ones through the issuer. One
// request reads top to bottom in request.go (OnHttpRequestHeaders), then
// exchange.go (the callout and its answer) and cookie.go (the response).
//
// The concerns it calls on are packages of their own:
//
//	filter/headers      the one pass over the request headers
//	filter/cache        the session and credential caches, the shared table's format
//	filter/revocation   the revocation state, the keys, the poll lease, the status record
//	filter/session      the JWT format and its HMAC check (shared with the issuer)
//	filter/internal/rawmem  every use of unsafe, fuzzed
//
// Here: configuration (config.go), contexts (this file), the request
// (request.go), the exchange (exchange.go), the cookie, local replies, the
// sync cycle and its shared data (sync.go, credshare.go), metrics, the clock
// and garbage-collection pacing.
//
// All state lives in the plugin context (one per plugin configuration in a
// VM), in the HTTP contexts and in proxy shared data (sync.go); there are no
// package-level caches, so a fresh plugin context always starts clean.
package plugin

import (
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/revocation"
	"github.com/svcauth/svcauth/filter/session"
)

// NewVMContext returns the VM context that filter/main.go registers.
func NewVMContext() types.VMContext { return &vmContext{} }

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) OnVMStart(int) types.OnVMStartStatus {
	gcSetup()
	return types.OnVMStartStatusOK
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

// pluginContext holds one validated configuration, its verifier, the
// caches, the revocation state and the sync machinery. The verifier reuses
// HMAC state, which is safe because a VM is single-threaded.
type pluginContext struct {
	types.DefaultPluginContext
	cfg      *Config
	verifier *session.Verifier
	keys     []revocation.Key  // the keys the verifier accepts: configured, then synced
	rev      *revocation.State // never nil
	sessions cache.Sessions
	creds    cache.Credentials
	hasher   cache.Hasher
	clock    clock
	sync     syncer
	stats    stats
	gc       gcPacer
	spare    []*httpContext // finished streams' contexts, for reuse
}

func (p *pluginContext) OnPluginStart(configSize int) types.OnPluginStartStatus {
	p.cfg, p.verifier = nil, nil
	var data []byte
	if configSize > 0 {
		var err error
		if data, err = proxywasm.GetPluginConfiguration(); err != nil {
			proxywasm.LogCritical("svcauth: cannot read the plugin configuration: " + err.Error())
			return types.OnPluginStartStatusFailed
		}
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		proxywasm.LogCritical("svcauth: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	keys := make([]revocation.Key, len(cfg.Keys))
	for i, k := range cfg.Keys {
		keys[i] = revocation.NewKey(k, cfg.KeyActivatesAt[k.ID])
	}
	p.cfg = cfg
	if err := p.setKeys(keys); err != nil {
		p.cfg = nil
		proxywasm.LogCritical("svcauth: invalid plugin configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	p.rev = revocation.None
	p.sessions = cache.NewSessions(cfg.SessionCacheSize)
	p.creds = cache.NewCredentials(cfg.CredentialCacheSize)
	p.clock = clock{}
	p.sync = syncer{}
	p.sync.init(cfg.Audience)
	hashKey, err := cache.SharedHashKey(shared, p.sync.hashKeyName)
	if err != nil {
		proxywasm.LogCritical("svcauth: cannot keep the credential cache's hash key in shared data: " + err.Error())
		p.cfg = nil
		return types.OnPluginStartStatusFailed
	}
	p.hasher = cache.NewHasher(hashKey, cfg.Audience)
	p.stats = stats{}
	p.stats.define()
	p.refreshShared() // a VM that starts later takes the state the others have
	if err := proxywasm.SetTickPeriodMilliSeconds(cfg.SyncPeriodMS); err != nil {
		proxywasm.LogCritical("svcauth: cannot set the tick period for the revocation sync: " + err.Error())
		p.cfg = nil
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfo("svcauth: protecting audience " + cfg.Audience + " with " +
		strconv.Itoa(len(cfg.Keys)) + " key(s); exchanges go to cluster " + strconv.Quote(cfg.Issuer.Cluster) +
		"; revocation sync every " + strconv.FormatUint(uint64(cfg.SyncPeriodMS), 10) + " ms")
	return types.OnPluginStartStatusOK
}

// OnPluginDone hands the poll lease to another VM and flushes the counts.
func (p *pluginContext) OnPluginDone() bool {
	if p.cfg != nil {
		p.sync.lease.Release()
		p.stats.flush()
	}
	return true
}

// setKeys replaces the accepted keys and the verifier. When a key is dropped
// the caches are emptied, as they may hold sessions it signed.
func (p *pluginContext) setKeys(keys []revocation.Key) error {
	sk := make([]session.Key, len(keys))
	for i := range keys {
		sk[i] = keys[i].Key
	}
	v, err := session.NewVerifier(p.cfg.Audience, sk, p.cfg.ClockSkewSeconds)
	if err != nil {
		return err
	}
	if p.keys != nil && revocation.DroppedKey(p.keys, keys) {
		p.sessions.Clear()
		p.creds.Clear()
	}
	p.keys, p.verifier = keys, v
	return nil
}

// NewHttpContext reuses the context of a finished stream when there is one:
// a context per stream is an allocation (and garbage) inside wasm that a
// cached request need not make.
func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	if n := len(p.spare); n > 0 {
		h := p.spare[n-1]
		p.spare = p.spare[:n-1]
		*h = httpContext{p: p}
		return h
	}
	return &httpContext{p: p}
}

// maxSpareContexts bounds the finished contexts a VM keeps for reuse.
const maxSpareContexts = 64

// httpContext is one request. session is set only by a successful exchange,
// for OnHttpResponseHeaders to turn into the cookie.
type httpContext struct {
	types.DefaultHttpContext
	p          *pluginContext
	held       bool  // the request waits for the issuer or was answered locally
	start      int64 // request time, Unix seconds (see clock.go)
	session    string
	sessionExp int64
	cred       cache.CredKey // the credential pair being exchanged
	sentAtMS   int64         // when the exchange was dispatched (trusted clock only)
	awaiting   bool          // an exchange callout is out: its callback will use this context
	finished   bool          // the stream is done (the context is spare or abandoned)
}

// OnHttpStreamDone is the last callback of a stream (proxy_on_log); after it
// the host only deletes the context. The context is then kept for reuse,
// unless an exchange callout is still out: its callback captured this
// context and must find it as it left it.
func (h *httpContext) OnHttpStreamDone() {
	if h.finished {
		return
	}
	h.finished = true
	h.session = ""
	p := h.p
	p.gc.streamDone(&p.stats)
	if !h.awaiting && len(p.spare) < maxSpareContexts {
		p.spare = append(p.spare, h)
	}
}
