//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The benchmarks time the request-header phase of one request, natively and
// on the compiled module under wazero, through the same emulator; Baseline
// runs a filter that does nothing, so (ValidCookie - Baseline) is svcauth's
// own cost. Allocations counted are the host's and the emulator's (for the
// wasm runs the module's own heap is invisible to the Go benchmark).
//
//	go test -run '^$' -bench . -benchmem ./filter/plugin

func BenchmarkValidCookie(b *testing.B) {
	headers := benchHeaders("cookie", "_ga=GA1.1.1; CF_Authorization="+sign(b, testKey, nil)+"; theme=dark")
	benchVMs(b, testConfig(), headers, types.ActionContinue)
}

func BenchmarkNoCredentials(b *testing.B) {
	benchVMs(b, testConfig(), benchHeaders(), types.ActionPause)
}

func BenchmarkMalformedSecret(b *testing.B) {
	headers := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret[:len(testSecret)-1]+"x")
	benchVMs(b, testConfig(), headers, types.ActionPause)
}

func BenchmarkBaseline(b *testing.B) {
	headers := benchHeaders("cookie", "CF_Authorization="+sign(b, testKey, nil))
	b.Run("go", func(b *testing.B) { benchRequests(b, &noopVM{}, "", headers, types.ActionContinue) })
	b.Run("wasm", func(b *testing.B) { benchRequests(b, noopModule.get(b), "", headers, types.ActionContinue) })
}

func benchVMs(b *testing.B, config string, headers [][2]string, want types.Action) {
	b.Run("go", func(b *testing.B) { benchRequests(b, NewVMContext(), config, headers, want) })
	b.Run("wasm", func(b *testing.B) { benchRequests(b, filterModule.get(b), config, headers, want) })
}

// benchRequests times requests' header phase through a fresh emulator.
func benchRequests(b *testing.B, vm types.VMContext, config string, headers [][2]string, want types.Action) {
	host := startHost(b, vm, config)
	b.ReportAllocs()
	for b.Loop() {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers, true); a != want {
			b.Fatalf("action %v, want %v", a, want)
		}
		host.CompleteHttpContext(id)
	}
}

func benchHeaders(extra ...string) [][2]string {
	return get("/api/v1/items?page=2", append([]string{
		"user-agent", "ci-runner/1.0", "accept", "application/json",
		"x-request-id", "5f0c9a8e-2b1d-4c3e-9f7a-1b2c3d4e5f60", "x-forwarded-for", "198.51.100.23",
	}, extra...)...)
}

type noopVM struct{ types.DefaultVMContext }

func (*noopVM) NewPluginContext(uint32) types.PluginContext { return &noopPlugin{} }

type noopPlugin struct{ types.DefaultPluginContext }

func (*noopPlugin) NewHttpContext(uint32) types.HttpContext { return &types.DefaultHttpContext{} }
