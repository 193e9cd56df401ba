//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/session"
)

// Every filter test runs twice: natively ("go") and on the compiled module
// under wazero ("wasm"). Compiling a module costs about a second, so the
// package compiles each one once, lazily, and shares the instance; the
// emulator is global and serialised, so tests never run in parallel and every
// emulator is reset through t.Cleanup (a missing reset deadlocks the next one).
//
// The wasm instance outlives emulators: each new emulator makes the module
// create plugin context 1 afresh, which is why the plugin keeps no state
// outside its contexts (TestPluginStartsClean checks it).
//
// Under proxytest the module's WASI clock is wazero's fake one (it reads
// 2022-01-01), so every emulator sets request.time to the real time, and the
// filter prefers that attribute to the WASI clock (clock.go).
//
// SVCAUTH_WASM names a prebuilt filter module (e.g. build/svcauth.wasm from
// `make build`); without it the tests build one into a temporary directory.
// A prebuilt module older than the sources it is built from is refused: its
// half of the tests would test old code.

// wasmModule is one module the tests build (or take from an environment
// variable) and instantiate at most once.
type wasmModule struct {
	env, pkg string
	src      string    // the directory of its sources, for the staleness check
	once     sync.Once // loads bin
	bin      []byte
	vmOnce   sync.Once // compiles vm, only for the tests that use the emulator
	vm       proxytest.WasmVMContext
	err      error
}

var (
	filterModule = &wasmModule{env: "SVCAUTH_WASM", pkg: "github.com/svcauth/svcauth/filter", src: ".."}
	noopModule   = &wasmModule{env: "SVCAUTH_NOOP_WASM", pkg: "github.com/svcauth/svcauth/filter/plugin/testdata/noop", src: "testdata/noop"}
	buildDir     string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, w := range []*wasmModule{filterModule, noopModule} {
		if w.vm != nil {
			w.vm.Close()
		}
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func (w *wasmModule) get(tb testing.TB) types.VMContext {
	tb.Helper()
	w.load(tb)
	w.vmOnce.Do(func() { w.vm, w.err = proxytest.NewWasmVMContext(w.bin) })
	if w.err != nil {
		tb.Fatalf("wasm module %s: %v", w.pkg, w.err)
	}
	return w.vm
}

// binary returns the module's bytes (for hosts other than the emulator).
func (w *wasmModule) binary(tb testing.TB) []byte {
	tb.Helper()
	w.load(tb)
	return w.bin
}

func (w *wasmModule) load(tb testing.TB) {
	tb.Helper()
	w.once.Do(func() {
		path := os.Getenv(w.env)
		if path == "" {
			path, w.err = buildWasm(w.pkg)
			if w.err != nil {
				return
			}
		} else if w.err = checkFresh(path, w.src, w.env); w.err != nil {
			return
		}
		w.bin, w.err = os.ReadFile(path)
	})
	if w.err != nil {
		tb.Fatalf("wasm module %s: %v", w.pkg, w.err)
	}
}

// checkFresh refuses a prebuilt module older than a Go source file below src
// (tests excluded, and internal/: the test hosts are not in the module) or
// than go.mod and go.sum.
func checkFresh(path, src, env string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	built := st.ModTime()
	newer := ""
	for _, f := range []string{"../../go.mod", "../../go.sum"} {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(built) {
			newer = f
		}
	}
	walkErr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case newer != "":
			return fs.SkipAll
		case d.IsDir() && (d.Name() == "internal" || d.Name() == "testdata") && p != src:
			return fs.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go"):
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().After(built) {
			newer = p
		}
		return nil
	})
	if walkErr != nil {
		return walkErr
	}
	if newer != "" {
		return fmt.Errorf("%s=%s is older than %s: rebuild it (make build) or unset %s to let the tests build one", env, path, newer, env)
	}
	return nil
}

func buildWasm(pkg string) (string, error) {
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "svcauth-wasm-")
		if err != nil {
			return "", err
		}
		buildDir = dir
	}
	out := filepath.Join(buildDir, filepath.Base(pkg)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{pkg, err, string(msg)}
	}
	return out, nil
}

type buildError struct {
	pkg string
	err error
	out string
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// vmTest runs f natively and on the compiled filter.
func vmTest(t *testing.T, f func(*testing.T, types.VMContext)) {
	t.Helper()
	t.Run("go", func(t *testing.T) { f(t, NewVMContext()) })
	t.Run("wasm", func(t *testing.T) { f(t, filterModule.get(t)) })
}

// startHost creates an emulator for vm with the given plugin configuration,
// registers its reset, and starts the plugin, which must succeed.
func startHost(t testing.TB, vm types.VMContext, config string, props ...property) proxytest.HostEmulator {
	t.Helper()
	host := newHost(t, vm, config, props...)
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start; critical logs: %q", host.GetCriticalLogs())
	}
	return host
}

type property struct {
	path  []string
	value []byte
}

func newHost(t testing.TB, vm types.VMContext, config string, props ...property) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(config)).
		WithProperty([]string{"request", "time"}, nanos(time.Now()))
	for _, p := range props {
		opt = opt.WithProperty(p.path, p.value)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	if st := host.StartVM(); st != types.OnVMStartStatusOK {
		t.Fatalf("OnVMStart failed: %v", st)
	}
	return host
}

func nanos(t time.Time) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

// sign returns a session JWT for testAud valid from now for an hour, after
// edit changes its claims.
func sign(t testing.TB, key session.Key, edit func(*session.Claims)) string {
	t.Helper()
	now := time.Now().Unix()
	c := session.Claims{
		Type: session.TypeApp, Audience: testAud, Issuer: "https://issuer.test",
		IssuedAt: now, NotBefore: now, ExpiresAt: now + 3600,
		CommonName: testClientID, ID: "jti-1", TokenID: "tok-1",
	}
	if edit != nil {
		edit(&c)
	}
	tok, err := session.Sign(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get returns request headers with the usual pseudo-headers plus extra.
func get(path string, extra ...string) [][2]string {
	hs := [][2]string{{":method", "GET"}, {":path", path}, {":authority", "app.test"}, {":scheme", "https"}}
	for i := 0; i+1 < len(extra); i += 2 {
		hs = append(hs, [2]string{extra[i], extra[i+1]})
	}
	return hs
}

// send runs one request's header phase and returns its context id and action.
func send(host proxytest.HostEmulator, headers [][2]string) (uint32, types.Action) {
	id := host.InitializeHttpContext()
	return id, host.CallOnRequestHeaders(id, headers, true)
}

func values(hs [][2]string, name string) []string {
	var out []string
	for _, h := range hs {
		if h[0] == name {
			out = append(out, h[1])
		}
	}
	return out
}

// wantForwarded checks the request continues upstream carrying assertion as
// the only assertion header and no secret-bearing header.
func wantForwarded(t *testing.T, host proxytest.HostEmulator, id uint32, action types.Action, assertion string) {
	t.Helper()
	if action != types.ActionContinue {
		if r := host.GetSentLocalResponse(id); r != nil {
			t.Fatalf("action %v, local reply %d %s", action, r.StatusCode, r.Data)
		}
		t.Fatalf("action %v, want continue", action)
	}
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("unexpected local reply %d %s", r.StatusCode, r.Data)
	}
	hs := host.GetCurrentRequestHeaders(id)
	got := values(hs, "cf-access-jwt-assertion")
	if assertion == "" && len(got) != 0 || assertion != "" && (len(got) != 1 || got[0] != assertion) {
		t.Fatalf("assertion headers %q, want %q", got, assertion)
	}
	wantNoSecrets(t, hs)
}

func wantNoSecrets(t *testing.T, hs [][2]string) {
	t.Helper()
	for _, name := range []string{"cf-access-client-secret", "x-svcauth-credentials"} {
		if v := values(hs, name); len(v) != 0 {
			t.Fatalf("%s reached the upstream: %q", name, v)
		}
	}
	for _, h := range hs {
		if strings.Contains(h[1], testSecret) {
			t.Fatalf("secret reached the upstream in %s", h[0])
		}
	}
}

// wantReply checks the request was answered locally with status and reason,
// without a callout.
func wantReply(t *testing.T, host proxytest.HostEmulator, id uint32, action types.Action, status uint32, reason string) {
	t.Helper()
	if action != types.ActionPause {
		t.Fatalf("action %v, want pause", action)
	}
	wantLocalReply(t, host, id, status, reason)
	if c := host.GetCalloutAttributesFromContext(id); len(c) != 0 {
		t.Fatalf("unexpected callout to %s", c[0].Upstream)
	}
}

func wantLocalReply(t *testing.T, host proxytest.HostEmulator, id uint32, status uint32, reason string) {
	t.Helper()
	r := host.GetSentLocalResponse(id)
	if r == nil {
		t.Fatalf("no local reply (action %v)", host.GetCurrentHttpStreamAction(id))
	}
	errCode := map[uint32]string{401: "unauthorized", 403: "forbidden", 429: "too_many_requests", 503: "unavailable"}[status]
	want := `{"error":"` + errCode + `","reason":"` + reason + `"}`
	if r.StatusCode != status || string(r.Data) != want {
		t.Fatalf("local reply %d %s, want %d %s", r.StatusCode, r.Data, status, want)
	}
	if ct := values(r.Headers, "content-type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Fatalf("content-type %q", ct)
	}
	if cc := values(r.Headers, "cache-control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Fatalf("cache-control %q", cc)
	}
	if strings.Contains(string(r.Data), testSecret) {
		t.Fatal("local reply echoes the secret")
	}
}
