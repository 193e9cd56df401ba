package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The test binary doubles as a fake Envoy (ENVOY_BIN=<test binary>): it reads
// the rendered bootstrap given with -c, answers the admin endpoint like Envoy
// (/ready, /clusters in text form) and proxies its listener to the "app"
// cluster. That checks StartEnvoy's plumbing — rendering, flags, readiness
// and cluster-health polling, Stop — where no real Envoy exists.
const fakeEnvoyEnv = "SVCAUTH_STACK_FAKE_ENVOY"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnvoyEnv) == "1" {
		fakeEnvoy()
		return
	}
	os.Exit(m.Run())
}

func fakeEnvoy() {
	var cfgPath string
	for i, a := range os.Args {
		if a == "-c" && i+1 < len(os.Args) {
			cfgPath = os.Args[i+1]
		}
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Println("fake envoy:", err)
		os.Exit(1)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		fmt.Println("fake envoy:", err)
		os.Exit(1)
	}
	addr := func(v any) string {
		sa := walk(v, "socket_address").(map[string]any)
		return fmt.Sprintf("%v:%v", sa["address"], sa["port_value"])
	}
	clusters := map[string]string{}
	for _, c := range walk(cfg, "static_resources", "clusters").([]any) {
		name := walk(c, "name").(string)
		clusters[name] = addr(walk(c, "load_assignment", "endpoints", "0", "lb_endpoints", "0", "endpoint", "address"))
	}
	admin := http.NewServeMux()
	admin.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "LIVE\n") })
	admin.HandleFunc("/clusters", func(w http.ResponseWriter, r *http.Request) {
		for name, a := range clusters {
			fmt.Fprintf(w, "%s::observability_name::%s\n%s::%s::cx_active::0\n%s::%s::health_flags::healthy\n", name, name, name, a, name, a)
		}
	})
	admin.HandleFunc("/plugin", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, walk(findWasmPlugin(walk(cfg, "static_resources", "listeners")), "configuration", "value").(string))
	})
	go http.ListenAndServe(addr(walk(cfg, "admin", "address")), admin)
	app, _ := url.Parse("http://" + clusters["app"])
	listener := walk(cfg, "static_resources", "listeners", "0", "address")
	go http.ListenAndServe(addr(listener), httputil.NewSingleHostReverseProxy(app))
	fmt.Println("fake envoy: started with", strings.Join(os.Args[1:], " "))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}

func TestStartEnvoyWithFakeBinary(t *testing.T) {
	t.Setenv(EnvEnvoyBinary, os.Args[0])
	t.Setenv(fakeEnvoyEnv, "1")
	runner, err := FindEnvoy()
	if err != nil || runner.Binary != os.Args[0] {
		t.Fatalf("FindEnvoy: %v %v", runner, err)
	}

	upstream := &EchoUpstream{}
	up := httptest.NewServer(upstream)
	defer up.Close()
	issuer := httptest.NewServer(http.NotFoundHandler())
	defer issuer.Close()
	dir := t.TempDir()
	pluginConfig := `{"audience":"` + strings.Repeat("0", 64) + `","keys":[{"kid":"k","key":"` + strings.Repeat("A", 43) + `"}]}`
	cfgFile := filepath.Join(dir, "filter.json")
	if err := os.WriteFile(cfgFile, []byte(pluginConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, WasmFile), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartProxy(ctx, TargetEnvoy, DevProxyOptions{
		BinDir: dir, PluginConfig: cfgFile, Upstream: up.URL,
		Clusters: map[string]string{"svcauth-issuer": issuer.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if p.Kind != TargetEnvoy || p.AdminURL == "" {
		t.Fatalf("proxy %+v", p)
	}
	resp, err := http.Get(p.URL + "/through/envoy")
	if err != nil {
		t.Fatal(err)
	}
	var echoed Echoed
	if err := json.NewDecoder(resp.Body).Decode(&echoed); err != nil || echoed.Path != "/through/envoy" {
		t.Fatalf("echoed %+v %v", echoed, err)
	}
	resp.Body.Close()
	resp, err = http.Get(p.AdminURL + "/plugin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(got)) != pluginConfig {
		t.Fatalf("Envoy got plugin configuration %q", got)
	}
	if !strings.Contains(p.Output(), "--disable-hot-restart") {
		t.Errorf("output %q", p.Output())
	}
	p.Stop()
	if _, err := http.Get(p.URL); err == nil {
		t.Error("the listener still answers after Stop")
	}
}

func TestTargetAndNoEnvoy(t *testing.T) {
	for v, want := range map[string]string{"": TargetDevProxy, "devproxy": TargetDevProxy, "envoy": TargetEnvoy} {
		t.Setenv(EnvTarget, v)
		if got, err := Target(); err != nil || got != want {
			t.Errorf("%s=%q: %q %v", EnvTarget, v, got, err)
		}
	}
	t.Setenv(EnvTarget, "nginx")
	if _, err := Target(); err == nil {
		t.Error("an unknown target was accepted")
	}
	t.Setenv(EnvEnvoyBinary, filepath.Join(t.TempDir(), "no-such-envoy"))
	if _, err := FindEnvoy(); err == nil {
		t.Error("a missing $ENVOY_BIN was accepted")
	}
}

// TestRenderSeveralIssuerEndpoints: a cluster given two addresses gets
// exactly those two endpoints (the template's own address replaced).
func TestRenderSeveralIssuerEndpoints(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(root, EnvoyTemplatePath))
	if err != nil {
		t.Fatal(err)
	}
	out, err := RenderEnvoyConfig(template, RenderOptions{Listen: "127.0.0.1:1", Admin: "127.0.0.1:2",
		Clusters: map[string]string{"svcauth-issuer": "127.0.0.7:18081,127.0.0.8:18082", "app": "127.0.0.9:19000"}})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	endpoints := func(cfg map[string]any, cluster string) []any {
		for _, c := range walk(cfg, "static_resources", "clusters").([]any) {
			if walk(c, "name") == cluster {
				l, _ := walk(c, "load_assignment", "endpoints", "0", "lb_endpoints").([]any)
				return l
			}
		}
		t.Fatalf("no cluster %s", cluster)
		return nil
	}
	for cluster, want := range map[string][]string{"svcauth-issuer": {"127.0.0.7:18081", "127.0.0.8:18082"}, "app": {"127.0.0.9:19000"}} {
		got := endpoints(cfg, cluster)
		if len(got) != len(want) {
			t.Fatalf("%s: %d endpoints, want %v", cluster, len(got), want)
		}
		for i, ep := range got {
			sa := walk(ep, "endpoint", "address", "socket_address").(map[string]any)
			if a := fmt.Sprintf("%v:%v", sa["address"], sa["port_value"]); a != want[i] {
				t.Errorf("%s endpoint %d: %s, want %s", cluster, i, a, want[i])
			}
		}
	}
}
