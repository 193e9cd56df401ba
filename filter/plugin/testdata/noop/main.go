// Command noop is the benchmarks' baseline: a proxy-wasm plugin built like
// svcauth.wasm that reads the request headers the way a filter must and lets
// every request through. Subtracting its cost per request from svcauth's
// leaves the cost of the auth logic itself.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &http{} }

type http struct{ types.DefaultHttpContext }

// OnHttpRequestHeaders does the one host call every request of svcauth makes
// too, so the baseline includes the ABI round trip.
func (*http) OnHttpRequestHeaders(int, bool) types.Action {
	_, _ = proxywasm.GetHttpRequestHeader("cookie")
	return types.ActionContinue
}
