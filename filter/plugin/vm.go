// Package plugin is the svcauth proxy-wasm filter: it checks session JWTs in
// the filter and exchanges service-token credentials for new ones through the
// issuer. Each file holds one part: configuration, contexts (this file), the
// request flow, credential extraction, the exchange callout, the cookie, local
// replies, the clock and garbage-collection pacing.
//
// All state lives in the plugin context (one per plugin configuration in a
// VM) and in the HTTP contexts; there are no package-level caches, so a fresh
// plugin context always starts clean.
package plugin

import (
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/svcauth/svcauth/filter/session"
)

// NewVMContext returns the VM context that filter/main.go registers.
func NewVMContext() types.VMContext { return &vmContext{} }

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

// pluginContext holds one validated configuration and its verifier. The
// verifier reuses HMAC state, which is safe because a VM is single-threaded.
type pluginContext struct {
	types.DefaultPluginContext
	cfg      *Config
	verifier *session.Verifier
	gc       gcPacer
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
	v, err := session.NewVerifier(cfg.Audience, cfg.Keys, cfg.ClockSkewSeconds)
	if err != nil {
		proxywasm.LogCritical("svcauth: invalid plugin configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	p.cfg, p.verifier = cfg, v
	proxywasm.LogInfo("svcauth: protecting audience " + cfg.Audience + " with " +
		strconv.Itoa(len(cfg.Keys)) + " key(s); exchanges go to cluster " + strconv.Quote(cfg.Issuer.Cluster))
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{p: p}
}

// httpContext is one request. session is set only by a successful exchange,
// for OnHttpResponseHeaders to turn into the cookie.
type httpContext struct {
	types.DefaultHttpContext
	p          *pluginContext
	held       bool  // the request waits for the issuer or was answered locally
	start      int64 // request time, Unix seconds (see clock.go)
	session    string
	sessionExp int64
}

func (h *httpContext) OnHttpStreamDone() {
	h.session = ""
	h.p.gc.streamDone()
}
