// Command noop is the benchmarks' baseline: a proxy-wasm plugin built like
// svcauth.wasm that reads the request headers the way a filter must and lets
// every request through. Subtracting its cost per request from svcauth's
// leaves the cost of the auth logic itself.
//
// With the plugin configuration "extra-host-call" it makes one more host
// call per request (a read of a header the request does not have), so that
// the benchmarks can show what one host call costs on the host at hand.
//
// With "same-io assertion=N [remove=NAME]" it makes the host calls svcauth
// makes on a cached request, the cheapest way svcauth makes them, and nothing
// else: it reads every request header (in place, sameio.go), reads the wall
// clock once, sets the assertion header to N bytes and removes header NAME.
// What svcauth costs above this baseline is its auth logic proper.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	extraCall bool
	sameIO    *sameIO
}

func (p *plugin) OnPluginStart(size int) types.OnPluginStartStatus {
	if size > 0 {
		cfg, _ := proxywasm.GetPluginConfiguration()
		p.extraCall = string(cfg) == "extra-host-call"
		p.sameIO = parseSameIO(string(cfg))
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext {
	return &http{extraCall: p.extraCall, sameIO: p.sameIO}
}

type http struct {
	types.DefaultHttpContext
	extraCall bool
	sameIO    *sameIO
}

// OnHttpRequestHeaders does the one host call every request of svcauth makes
// too, so the baseline includes the ABI round trip.
func (h *http) OnHttpRequestHeaders(int, bool) types.Action {
	if h.sameIO != nil {
		h.sameIO.request()
		return types.ActionContinue
	}
	_, _ = proxywasm.GetHttpRequestHeader("cookie")
	if h.extraCall {
		_, _ = proxywasm.GetHttpRequestHeader("x-absent")
	}
	return types.ActionContinue
}
