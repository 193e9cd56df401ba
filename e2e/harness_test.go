package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

var (
	binDir string
	// target is $E2E_TARGET: the dev proxy (default) or real Envoy. With
	// envoy and no Envoy here, targetSkip says why every env-based test skips.
	target     string
	targetSkip string
)

func TestMain(m *testing.M) {
	var err error
	if target, err = stack.Target(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if target == stack.TargetEnvoy {
		if runner, err := stack.FindEnvoy(); err != nil {
			targetSkip = "E2E_TARGET=envoy: " + err.Error() + "; skipping the end-to-end cases (they run against the dev proxy by default)"
			fmt.Fprintln(os.Stderr, targetSkip)
		} else {
			fmt.Fprintln(os.Stderr, "e2e: running against real Envoy:", runner)
		}
	}
	scratch, err := os.MkdirTemp("", "svcauth-e2e-bin-")
	if err != nil {
		panic(err)
	}
	binDir, err = stack.BinDir(scratch)
	if err != nil {
		os.RemoveAll(scratch)
		panic(err)
	}
	code := m.Run()
	pgtest.Stop()
	os.RemoveAll(scratch)
	os.Exit(code)
}

// env is one issuer, one app that admits any valid service token, one token,
// an echo upstream and the dev proxy running the real .wasm in front of it.
type env struct {
	ctx      context.Context
	issuer   *stack.Issuer
	proxy    *stack.DevProxy
	upstream *stack.EchoUpstream
	app      stack.App
	token    stack.Token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if targetSkip != "" {
		t.Skip(targetSkip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	state := t.TempDir()
	e := &env{ctx: ctx, upstream: &stack.EchoUpstream{}}

	var err error
	e.issuer, err = stack.StartIssuer(ctx, stack.IssuerOptions{BinDir: binDir, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.issuer.Stop()
		if t.Failed() {
			t.Logf("issuer output:\n%s", e.issuer.Output())
		}
	})
	if e.app, err = e.issuer.CreateApp(ctx, "e2e-app", "app.example.test"); err != nil {
		t.Fatal(err)
	}
	if err = e.issuer.AdmitServiceTokens(ctx, e.app.ID, "any_valid_service_token"); err != nil {
		t.Fatal(err)
	}
	if e.token, err = e.issuer.CreateToken(ctx, "e2e-ci-job"); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(state, "filter.json")
	if err = e.issuer.WriteFilterConfig(ctx, e.app.ID, "svcauth-issuer", config); err != nil {
		t.Fatal(err)
	}

	up := httptest.NewServer(e.upstream)
	t.Cleanup(up.Close)
	// The proxy under test: the dev proxy, or real Envoy for E2E_TARGET=envoy.
	e.proxy = e.runProxy(t, "the", config, up.URL)
	return e
}

// get sends GET path through the proxy with the given headers.
func (e *env) get(t *testing.T, path string, headers map[string]string) *http.Response {
	t.Helper()
	resp := getVia(t, e.ctx, e.proxy.URL, path, headers)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// getVia sends GET base+path with the headers; the caller closes the body.
func getVia(t *testing.T, ctx context.Context, base, path string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (e *env) credentials() map[string]string {
	return map[string]string{"CF-Access-Client-Id": e.token.ClientID, "CF-Access-Client-Secret": e.token.ClientSecret}
}

// exchanges reads svcauth_exchanges_total{result=...} from the issuer's /metrics.
func (e *env) exchanges(t *testing.T, result string) int {
	t.Helper()
	return e.metric(t, `svcauth_exchanges_total{result="`+result+`"}`)
}

// metric returns the issuer's value of one series (name{labels}), 0 when
// the issuer has not exported it.
func (e *env) metric(t *testing.T, series string) int {
	t.Helper()
	resp, err := http.Get(e.issuer.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, series+" ") {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err != nil {
				t.Fatalf("bad metric line %q", line)
			}
			return int(n)
		}
	}
	return 0
}

// startProxy starts another proxy of the kind under test in front of the same
// upstream, configured for app: a proxy whose in-filter state (session and
// credential caches, sync state) is fresh, as a request would find on an
// Envoy that has never seen these credentials.
func (e *env) startProxy(t *testing.T, app stack.App) *stack.DevProxy {
	t.Helper()
	config := filepath.Join(t.TempDir(), "filter.json")
	if err := e.issuer.WriteFilterConfig(e.ctx, app.ID, "svcauth-issuer", config); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(e.upstream)
	t.Cleanup(up.Close)
	return e.runProxy(t, "second", config, up.URL)
}

// runProxy starts a proxy of the kind under test with the filter
// configuration file config in front of upstream, stopped at the end of the
// test (its output logged, as label, if the test failed).
func (e *env) runProxy(t *testing.T, label, config, upstream string) *stack.DevProxy {
	t.Helper()
	proxy, err := stack.StartProxy(e.ctx, target, stack.DevProxyOptions{
		BinDir: binDir, PluginConfig: config, Upstream: upstream,
		Clusters: map[string]string{"svcauth-issuer": e.issuer.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Stop()
		if t.Failed() {
			t.Logf("%s %s output:\n%s", label, proxy.Kind, proxy.Output())
		}
	})
	return proxy
}
