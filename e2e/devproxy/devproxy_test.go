package devproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

func TestContinueReachesUpstreamWithMutatedHeaders(t *testing.T) {
	up := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("X-Upstream", "yes")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "upstream got %q", body)
	})
	h := start(t, Config{Upstream: up.URL})

	before := time.Now()
	resp, body := h.do(t, "POST", "/hello/world?x=1&y=2", "payload",
		"X-Multi", "a", "X-Multi", "b", "X-Request-Id", "req-123")
	after := time.Now()

	if resp.StatusCode != http.StatusCreated || body != `upstream got "payload"` {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Plugin-Response"); got != "yes" {
		t.Errorf("x-plugin-response = %q: the response-headers callback did not run", got)
	}
	if got := resp.Header.Get("X-Upstream"); got != "yes" {
		t.Errorf("x-upstream = %q", got)
	}
	if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2", "plugin=1"}) {
		t.Errorf("set-cookie = %q", got)
	}
	seen := up.last(t)
	if seen.method != "POST" || seen.uri != "/hello/world?x=1&y=2" {
		t.Errorf("upstream saw %s %s", seen.method, seen.uri)
	}
	if want := strings.TrimPrefix(h.srv.URL, "http://"); seen.host != want {
		t.Errorf("upstream host = %q, want the client's %q (Envoy keeps the Host)", seen.host, want)
	}
	if got := seen.header.Get("X-Plugin"); got != "seen" {
		t.Errorf("x-plugin = %q: the plugin's header did not reach the upstream", got)
	}
	if got := seen.header.Values("X-Multi"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("x-multi = %q", got)
	}
	if got := seen.header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("x-request-id = %q", got)
	}
	host, _, err := net.SplitHostPort(seen.header.Get("X-Source-Address"))
	if err != nil || host != "127.0.0.1" {
		t.Errorf("x-source-address = %q: source.address property not set", seen.header.Get("X-Source-Address"))
	}
	ns, err := strconv.ParseInt(seen.header.Get("X-Request-Time"), 10, 64)
	if err != nil || ns < before.UnixNano() || ns > after.UnixNano() {
		t.Errorf("x-request-time = %q: request.time property not the arrival time", seen.header.Get("X-Request-Time"))
	}
	if seen.body != "payload" {
		t.Errorf("upstream body = %q", seen.body)
	}
}

func TestRequestIDGeneratedWhenAbsent(t *testing.T) {
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL})
	h.do(t, "GET", "/", "")
	id := up.last(t).header.Get("X-Request-Id")
	if len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Errorf("x-request-id = %q, want a generated UUID", id)
	}
	if got := up.last(t).header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("x-forwarded-proto = %q", got)
	}
}

func TestLocalReply(t *testing.T) {
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL})

	resp, body := h.do(t, "GET", "/", "", "X-Deny", "1")

	if resp.StatusCode != http.StatusForbidden || body != "denied by testplugin\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Denied-By"); got != "testplugin" {
		t.Errorf("x-denied-by = %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("content-type = %q, want Envoy's default text/plain", got)
	}
	if got := resp.Header.Get("X-Plugin-Response"); got != "yes" {
		t.Errorf("x-plugin-response = %q: a local reply passes the response-headers callback in Envoy", got)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests after a local reply", n)
	}
}

func TestCalloutToRealServer(t *testing.T) {
	const secret = "svcauth_cs_super-secret-value-123"
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jwt":"token-for-client"}`))
	})
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": auth.URL}})

	resp, body := h.do(t, "GET", "/private", "", "X-Callout", "auth", "X-Secret", secret)

	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	call := auth.last(t)
	if call.method != "POST" || call.uri != "/check?from=testplugin" || call.host != "auth.internal" {
		t.Errorf("callout: %s %s host %q", call.method, call.uri, call.host)
	}
	if want := `{"secret":"` + secret + `"}`; call.body != want {
		t.Errorf("callout body = %q, want %q", call.body, want)
	}
	if got := call.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("callout content-type = %q", got)
	}
	if got := call.header.Values("X-Callout-Header"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("callout x-callout-header = %q", got)
	}
	seen := up.last(t)
	if got := seen.header.Get("X-Auth-Status"); got != "200" {
		t.Errorf("x-auth-status = %q", got)
	}
	if got := seen.header.Get("X-Auth-Body"); got != `{"jwt":"token-for-client"}` {
		t.Errorf("x-auth-body = %q", got)
	}
	if _, ok := seen.header["X-Secret"]; ok {
		t.Error("the secret header reached the upstream")
	}
	logs := h.log.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, "super-secret") {
		t.Errorf("the callout's secret is in the log:\n%s", logs)
	}
	if strings.Contains(logs, "[http callout") {
		t.Errorf("emulator callout lines reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, "testplugin: dispatching callout to auth") {
		t.Errorf("the plugin's own log line was not forwarded:\n%s", logs)
	}
}

func TestCalloutNon200IsDelivered(t *testing.T) {
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized"}`))
	})
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": auth.URL}})
	h.do(t, "GET", "/", "", "X-Callout", "auth")
	if got := up.last(t).header.Get("X-Auth-Status"); got != "401" {
		t.Errorf("x-auth-status = %q, want the callout's 401", got)
	}
}

func TestCalloutToUnknownClusterFails(t *testing.T) {
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": "http://127.0.0.1:1"}})

	resp, body := h.do(t, "GET", "/", "", "X-Callout", "nowhere", "X-Secret", "hidden-secret-1")

	if resp.StatusCode != http.StatusServiceUnavailable || body != "callout failed\n" {
		t.Fatalf("got %d %q, want the plugin's 503 for a failed call", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
	logs := h.log.String()
	if !strings.Contains(logs, `cluster "nowhere" failed: unknown cluster`) {
		t.Errorf("no unknown-cluster message in the log:\n%s", logs)
	}
	if strings.Contains(logs, "hidden-secret-1") {
		t.Errorf("secret in the log:\n%s", logs)
	}
}

func TestCalloutConnectionRefusedFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": dead}})
	resp, _ := h.do(t, "GET", "/", "", "X-Callout", "auth")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", resp.StatusCode)
	}
}

func TestCalloutTimeoutFromDispatch(t *testing.T) {
	release := make(chan struct{})
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		select { // hang until the proxy gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	up := newRecorder(t, nil)
	h := start(t, Config{
		Upstream:     up.URL,
		Clusters:     map[string]string{"auth": auth.URL},
		PluginConfig: []byte(`{"timeout_ms": 150}`),
		// Were the dispatch's own timeout not used, the test would wait a minute.
		CalloutTimeout: time.Minute,
	})

	resp, body := h.do(t, "GET", "/", "", "X-Callout", "auth", "X-Secret", "hidden-secret-2")

	if resp.StatusCode != http.StatusServiceUnavailable || body != "callout failed\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	logs := h.log.String()
	if !strings.Contains(logs, "no answer within 150ms") {
		t.Errorf("the dispatch's timeout (150ms) was not applied:\n%s", logs)
	}
	if strings.Contains(logs, "hidden-secret-2") {
		t.Errorf("secret in the log:\n%s", logs)
	}
}

func TestPluginThatNeverResumesIs500(t *testing.T) {
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL})
	resp, body := h.do(t, "GET", "/", "", "X-Stall", "1")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "plugin neither resumed nor replied") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	// The proxy is still usable afterwards.
	if resp, _ := h.do(t, "GET", "/", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("next request: %d", resp.StatusCode)
	}
}

func TestUpstreamDownIsLocal503ThroughPlugin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h := start(t, Config{Upstream: dead})
	resp, _ := h.do(t, "GET", "/", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Plugin-Response"); got != "yes" {
		t.Errorf("x-plugin-response = %q: Envoy's upstream-failure reply passes the plugin", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		_, _ = w.Write([]byte("echo:" + body))
	})
	up := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("X-Echo-Auth-Body", r.Header.Get("X-Auth-Body"))
		w.Header().Set("X-Echo-Plugin", r.Header.Get("X-Plugin"))
		_, _ = w.Write([]byte("ok"))
	})
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": auth.URL}})

	const workers, perWorker = 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if err := concurrentCase(h.srv.URL, w, i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// concurrentCase sends one of three kinds of request and checks its answer.
func concurrentCase(base string, w, i int) error {
	req, _ := http.NewRequest("GET", base+"/c?w="+strconv.Itoa(w), nil)
	secret := fmt.Sprintf("secret-%d-%d", w, i)
	kind := (w + i) % 3
	switch kind {
	case 0:
		req.Header.Set("X-Callout", "auth")
		req.Header.Set("X-Secret", secret)
	case 1:
		req.Header.Set("X-Deny", "1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch kind {
	case 0:
		want := `echo:{"secret":"` + secret + `"}`
		if resp.StatusCode != 200 || resp.Header.Get("X-Echo-Auth-Body") != want {
			return fmt.Errorf("callout %d/%d: %d, auth body %q, want %q", w, i, resp.StatusCode, resp.Header.Get("X-Echo-Auth-Body"), want)
		}
	case 1:
		if resp.StatusCode != 403 {
			return fmt.Errorf("deny %d/%d: %d", w, i, resp.StatusCode)
		}
	default:
		if resp.StatusCode != 200 || resp.Header.Get("X-Echo-Plugin") != "seen" {
			return fmt.Errorf("plain %d/%d: %d, x-plugin %q", w, i, resp.StatusCode, resp.Header.Get("X-Echo-Plugin"))
		}
	}
	return nil
}

func TestTicksAndTickCallouts(t *testing.T) {
	auth := newRecorder(t, nil)
	up := newRecorder(t, nil)
	h := start(t, Config{
		Upstream:     up.URL,
		Clusters:     map[string]string{"auth": auth.URL},
		PluginConfig: []byte(`{"tick_ms": 10, "tick_cluster": "auth"}`),
	})
	// Poll until the plugin reports ticks and answered tick callouts; the
	// deadline only bounds a broken run.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := h.do(t, "GET", "/", "")
		ticks, _ := strconv.Atoi(resp.Header.Get("X-Ticks"))
		answered, _ := strconv.Atoi(resp.Header.Get("X-Tick-Callouts"))
		if ticks >= 3 && answered >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the deadline: %d ticks, %d tick callouts answered", ticks, answered)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range auth.requests() {
		if r.method != "GET" || r.uri != "/tick" || r.host != "tick.internal" {
			t.Errorf("tick callout: %s %s host %q", r.method, r.uri, r.host)
		}
	}
}

func TestPluginStartFailure(t *testing.T) {
	log := &stack.SyncBuffer{}
	_, err := New(Config{VM: sharedVM, Upstream: "http://127.0.0.1:1", PluginConfig: []byte(`{"fail": true}`), Log: log})
	if err == nil || !strings.Contains(err.Error(), "critical: testplugin: configured to fail") {
		t.Fatalf("err = %v, want the plugin's critical log", err)
	}
	// The failed Proxy released the emulator: a new one starts.
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL})
	if resp, _ := h.do(t, "GET", "/", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func TestOneProxyPerProcess(t *testing.T) {
	up := newRecorder(t, nil)
	start(t, Config{Upstream: up.URL})
	if _, err := New(Config{VM: sharedVM, Upstream: up.URL}); err == nil || !strings.Contains(err.Error(), "process-global") {
		t.Fatalf("second New: %v", err)
	}
}

func TestClosedProxyAnswers503(t *testing.T) {
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL})
	if err := h.proxy.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.do(t, "GET", "/", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := New(Config{
		VM:       sharedVM,
		Upstream: "ftp://x",
		Clusters: map[string]string{"a": "http://h/path", "b": "nope"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"upstream", `cluster "a"`, `cluster "b"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestTimeoutFromPluginConfig(t *testing.T) {
	for cfg, want := range map[string]time.Duration{
		`{"issuer": {"timeout_ms": 2000}}`: 2 * time.Second,
		`{"issuer": {}}`:                   DefaultCalloutTimeout,
		``:                                 DefaultCalloutTimeout,
		`not json`:                         DefaultCalloutTimeout,
	} {
		if got := timeoutFromPluginConfig([]byte(cfg)); got != want {
			t.Errorf("%q: %v, want %v", cfg, got, want)
		}
	}
}

// TestPluginCrashFailsClosed: after a trap every request is refused, as Envoy
// does with a failed VM. It uses its own VM so that the shared one stays
// untouched by the crash.
func TestPluginCrashFailsClosed(t *testing.T) {
	wasm, err := os.ReadFile(testPluginPath)
	if err != nil {
		t.Fatal(err)
	}
	up := newRecorder(t, nil)
	logs := &stack.SyncBuffer{}
	p, err := New(Config{Wasm: wasm, Upstream: up.URL, Log: logs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	for i, hdr := range []string{"X-Panic", "X-Anything"} {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Header.Set(hdr, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "plugin crashed") {
			t.Errorf("request %d: %d %q, want 503 plugin crashed", i, resp.StatusCode, body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests from a crashed plugin", n)
	}
	if err := p.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	if !strings.Contains(logs.String(), "plugin crashed") {
		t.Errorf("no crash in the log:\n%s", logs.String())
	}
}

// TestFanoutCallouts: several callouts outstanding at once, one dispatched
// from another's callback. The emulator numbers callouts len(outstanding);
// answering newest first keeps every id unique.
func TestFanoutCallouts(t *testing.T) {
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		_, _ = io.WriteString(w, strings.TrimPrefix(r.URL.Path, "/"))
	})
	up := newRecorder(t, nil)
	h := start(t, Config{Upstream: up.URL, Clusters: map[string]string{"auth": auth.URL}})
	for i := 0; i < 3; i++ {
		resp, _ := h.do(t, "GET", "/", "", "X-Fanout", "auth")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d", resp.StatusCode)
		}
		got := strings.Split(up.last(t).header.Get("X-Fanout-Answers"), ",")
		slices.Sort(got)
		if !slices.Equal(got, []string{"p1", "p2", "p3"}) {
			t.Fatalf("x-fanout-answers = %q", up.last(t).header.Get("X-Fanout-Answers"))
		}
	}
}
