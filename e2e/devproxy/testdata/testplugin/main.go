// Command testplugin is a tiny proxy-wasm plugin used only by the dev proxy's
// own tests. It exercises every path the dev proxy has to emulate: continue
// with mutated headers, local replies, callouts (success and failure), a
// plugin that forgets to resume, ticks and callouts made on a tick.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o testplugin.wasm .
//
// Request headers it reacts to:
//
//	x-deny: any            → local reply 403 "denied by testplugin"
//	x-callout: CLUSTER      → POST to CLUSTER (path /check?from=testplugin,
//	                          authority auth.internal, JSON body carrying the
//	                          value of x-secret, which is removed from the
//	                          request); on success the request continues with
//	                          x-auth-status and x-auth-body set from the reply;
//	                          on failure (no headers) → local reply 503
//	x-fanout: CLUSTER       → GETs /p1 and /p2 at once, and /p3 from the first
//	                          answer's callback; once all three are answered
//	                          the request continues with x-fanout-answers: the
//	                          answer bodies in arrival order, comma-separated
//	x-stall: any            → pauses and never resumes (a plugin bug)
//	x-panic: any            → panics (the guest traps and its module exits)
//	otherwise               → x-plugin: seen, x-source-address (property
//	                          source.address) and x-request-time (property
//	                          request.time, Unix ns) added
//
// Every response gets x-plugin-response: yes, x-ticks (ticks seen so far) and
// x-tick-callouts (answers to tick callouts received so far).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type config struct {
	// Fail makes OnPluginStart fail with a critical log.
	Fail bool `json:"fail"`
	// TimeoutMS is the dispatch timeout of request callouts.
	TimeoutMS uint32 `json:"timeout_ms"`
	// TickMS is the tick period; 0 disables ticks.
	TickMS uint32 `json:"tick_ms"`
	// TickCluster, when set, receives a GET /tick callout on every tick.
	TickCluster string `json:"tick_cluster"`
}

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	cfg          config
	ticks        int
	tickCallouts int
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		proxywasm.LogCriticalf("testplugin: reading configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &p.cfg); err != nil {
			proxywasm.LogCriticalf("testplugin: bad configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	if p.cfg.Fail {
		proxywasm.LogCritical("testplugin: configured to fail")
		return types.OnPluginStartStatusFailed
	}
	if p.cfg.TimeoutMS == 0 {
		p.cfg.TimeoutMS = 1000
	}
	if p.cfg.TickMS > 0 {
		if err := proxywasm.SetTickPeriodMilliSeconds(p.cfg.TickMS); err != nil {
			proxywasm.LogCriticalf("testplugin: tick period: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	proxywasm.LogInfo("testplugin: started")
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) OnTick() {
	p.ticks++
	if p.cfg.TickCluster == "" {
		return
	}
	headers := [][2]string{{":method", "GET"}, {":path", "/tick"}, {":authority", "tick.internal"}}
	_, err := proxywasm.DispatchHttpCall(p.cfg.TickCluster, headers, nil, nil, 1000,
		func(numHeaders, _, _ int) {
			if numHeaders > 0 {
				p.tickCallouts++
			}
		})
	if err != nil {
		proxywasm.LogErrorf("testplugin: tick callout: %v", err)
	}
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p, id: contextID}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	id     uint32
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	if _, err := proxywasm.GetHttpRequestHeader("x-deny"); err == nil {
		if err := proxywasm.SendHttpResponse(403, [][2]string{{"x-denied-by", "testplugin"}},
			[]byte("denied by testplugin\n"), -1); err != nil {
			proxywasm.LogErrorf("testplugin: local reply: %v", err)
		}
		return types.ActionPause
	}
	if _, err := proxywasm.GetHttpRequestHeader("x-stall"); err == nil {
		return types.ActionPause
	}
	if _, err := proxywasm.GetHttpRequestHeader("x-panic"); err == nil {
		panic("testplugin: deliberate panic")
	}
	if cluster, err := proxywasm.GetHttpRequestHeader("x-callout"); err == nil {
		return h.callout(cluster)
	}
	if cluster, err := proxywasm.GetHttpRequestHeader("x-fanout"); err == nil {
		return h.fanout(cluster)
	}
	if err := proxywasm.AddHttpRequestHeader("x-plugin", "seen"); err != nil {
		proxywasm.LogErrorf("testplugin: add header: %v", err)
	}
	if addr, err := proxywasm.GetProperty([]string{"source", "address"}); err == nil {
		_ = proxywasm.AddHttpRequestHeader("x-source-address", string(addr))
	}
	if t, err := proxywasm.GetProperty([]string{"request", "time"}); err == nil && len(t) == 8 {
		ns := int64(binary.LittleEndian.Uint64(t))
		_ = proxywasm.AddHttpRequestHeader("x-request-time", strconv.FormatInt(ns, 10))
	}
	return types.ActionContinue
}

func (h *httpContext) callout(cluster string) types.Action {
	secret, _ := proxywasm.GetHttpRequestHeader("x-secret")
	_ = proxywasm.RemoveHttpRequestHeader("x-secret")
	body, _ := json.Marshal(map[string]string{"secret": secret})
	headers := [][2]string{
		{":method", "POST"},
		{":path", "/check?from=testplugin"},
		{":authority", "auth.internal"},
		{"content-type", "application/json"},
		{"x-callout-header", "a"},
		{"x-callout-header", "b"},
	}
	proxywasm.LogInfof("testplugin: dispatching callout to %s", cluster)
	_, err := proxywasm.DispatchHttpCall(cluster, headers, body, nil, h.plugin.cfg.TimeoutMS,
		func(numHeaders, bodySize, _ int) {
			if numHeaders == 0 {
				proxywasm.LogWarn("testplugin: callout failed")
				_ = proxywasm.SendHttpResponse(503, nil, []byte("callout failed\n"), -1)
				return
			}
			status, _ := proxywasm.GetHttpCallResponseHeaders()
			code := ""
			for _, kv := range status {
				if kv[0] == ":status" {
					code = kv[1]
				}
			}
			var reply []byte
			if bodySize > 0 {
				reply, _ = proxywasm.GetHttpCallResponseBody(0, bodySize)
			}
			_ = proxywasm.AddHttpRequestHeader("x-auth-status", code)
			_ = proxywasm.AddHttpRequestHeader("x-auth-body", string(reply))
			if err := proxywasm.ResumeHttpRequest(); err != nil {
				proxywasm.LogErrorf("testplugin: resume: %v", err)
			}
		})
	if err != nil {
		proxywasm.LogErrorf("testplugin: dispatch: %v", err)
		_ = proxywasm.SendHttpResponse(503, nil, []byte("dispatch failed\n"), -1)
	}
	return types.ActionPause
}

func (h *httpContext) fanout(cluster string) types.Action {
	var answers []string
	var dispatch func(path string)
	dispatch = func(path string) {
		headers := [][2]string{{":method", "GET"}, {":path", path}, {":authority", "fanout.internal"}}
		_, err := proxywasm.DispatchHttpCall(cluster, headers, nil, nil, 1000, func(numHeaders, bodySize, _ int) {
			answer := "failed"
			if numHeaders > 0 && bodySize > 0 {
				b, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
				answer = string(b)
			}
			answers = append(answers, answer)
			if len(answers) == 1 {
				dispatch("/p3")
			}
			if len(answers) == 3 {
				_ = proxywasm.AddHttpRequestHeader("x-fanout-answers", strings.Join(answers, ","))
				_ = proxywasm.ResumeHttpRequest()
			}
		})
		if err != nil {
			proxywasm.LogErrorf("testplugin: fanout dispatch: %v", err)
		}
	}
	dispatch("/p1")
	dispatch("/p2")
	return types.ActionPause
}

func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpResponseHeader("x-plugin-response", "yes")
	// A cookie of its own, as svcauth sets its session cookie: it must reach
	// the client beside the upstream's cookies, not glued onto them.
	_ = proxywasm.AddHttpResponseHeader("set-cookie", "plugin=1")
	_ = proxywasm.AddHttpResponseHeader("x-ticks", strconv.Itoa(h.plugin.ticks))
	_ = proxywasm.AddHttpResponseHeader("x-tick-callouts", strconv.Itoa(h.plugin.tickCallouts))
	return types.ActionContinue
}
