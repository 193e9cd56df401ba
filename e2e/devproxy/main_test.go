package devproxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"

	"github.com/svcauth/svcauth/e2e/stack"
)

// The test plugin (testdata/testplugin) is compiled once per test binary and
// loaded into one wazero VM that every test's Proxy shares: compiling the
// module costs about a second, and the emulator allows a new Proxy once the
// previous one is closed. Tests are therefore sequential (no t.Parallel).
var (
	testPluginPath string
	sharedVM       proxytest.WasmVMContext
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "devproxy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testPluginPath = filepath.Join(dir, "testplugin.wasm")
	goBin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "devproxy tests need the go command to build the test plugin:", err)
		return 1
	}
	build := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", testPluginPath, "./testdata/testplugin")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		return 1
	}
	wasm, err := os.ReadFile(testPluginPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sharedVM, err = proxytest.NewWasmVMContext(wasm)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compiling the test plugin:", err)
		return 1
	}
	defer sharedVM.Close()
	return m.Run()
}

// harness is one Proxy behind an httptest server, with its log captured.
type harness struct {
	proxy *Proxy
	srv   *httptest.Server
	log   *stack.SyncBuffer
}

// start opens a Proxy on the shared VM. The caller sets Upstream, Clusters
// and PluginConfig; everything is closed at the end of the test.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{log: &stack.SyncBuffer{}}
	cfg.VM = sharedVM
	cfg.Log = h.log
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.proxy = p
	h.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		h.srv.Close()
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("dev proxy log:\n%s", h.log.String())
		}
	})
	return h
}

// do sends a request through the proxy and returns the response with its body read.
func (h *harness) do(t *testing.T, method, path string, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

// recorded is what a test server saw of one request.
type recorded struct {
	method, uri, host string
	header            http.Header
	body              string
}

// recorder is an httptest server that records requests and answers with
// respond (200 "ok" when nil).
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []recorded
	respond func(w http.ResponseWriter, r *http.Request, body string)
}

func newRecorder(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, body string)) *recorder {
	t.Helper()
	rec := &recorder{respond: respond}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, recorded{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(data)})
		rec.mu.Unlock()
		if rec.respond != nil {
			rec.respond(w, r, string(data))
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.seen...)
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	seen := r.requests()
	if len(seen) == 0 {
		t.Fatal("the server saw no request")
	}
	return seen[len(seen)-1]
}
