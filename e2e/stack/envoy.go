package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sigs.k8s.io/yaml"
)

// Targets of the e2e suite, chosen with $E2E_TARGET.
const (
	EnvTarget      = "E2E_TARGET"
	TargetDevProxy = "devproxy" // the default: the dev proxy runs the real .wasm on wazero
	TargetEnvoy    = "envoy"    // real Envoy: a local binary, or Docker (compose)
)

// EnvEnvoyBinary names an Envoy binary to use instead of looking up "envoy"
// on $PATH.
const EnvEnvoyBinary = "ENVOY_BIN"

// Paths inside the module.
const (
	EnvoyTemplatePath = "envoy/envoy.yaml"
	ComposeE2EPath    = "envoy/docker-compose.e2e.yaml"
	ComposeDemoPath   = "envoy/docker-compose.yaml"
)

// Target returns the e2e target named by $E2E_TARGET (default devproxy).
func Target() (string, error) {
	switch t := strings.TrimSpace(os.Getenv(EnvTarget)); t {
	case "", TargetDevProxy:
		return TargetDevProxy, nil
	case TargetEnvoy:
		return TargetEnvoy, nil
	default:
		return "", fmt.Errorf("%s=%q: want %q (default) or %q", EnvTarget, t, TargetDevProxy, TargetEnvoy)
	}
}

// EnvoyRunner is how this machine can run Envoy: a local binary, or Docker
// with compose (Compose is the command: "docker compose" or "docker-compose").
type EnvoyRunner struct {
	Binary  string
	Compose []string
}

func (r EnvoyRunner) String() string {
	if r.Binary != "" {
		return "local binary " + r.Binary
	}
	return "docker (" + strings.Join(r.Compose, " ") + ")"
}

// ErrNoEnvoy says neither an Envoy binary nor a Docker engine is available.
var ErrNoEnvoy = errors.New("no Envoy here: no envoy binary ($" + EnvEnvoyBinary +
	" or envoy on $PATH) and no Docker engine with compose (`docker info` must succeed)")

// FindEnvoy returns how Envoy can run here: $ENVOY_BIN or envoy on $PATH
// first, then a Docker engine with compose; ErrNoEnvoy otherwise.
func FindEnvoy() (EnvoyRunner, error) {
	if bin := os.Getenv(EnvEnvoyBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return EnvoyRunner{}, fmt.Errorf("$%s: %w", EnvEnvoyBinary, err)
		}
		return EnvoyRunner{Binary: bin}, nil
	}
	if bin, err := exec.LookPath("envoy"); err == nil {
		return EnvoyRunner{Binary: bin}, nil
	}
	if compose, err := DockerCompose(); err == nil {
		return EnvoyRunner{Compose: compose}, nil
	}
	return EnvoyRunner{}, ErrNoEnvoy
}

// DockerCompose returns the compose command when a Docker engine answers
// (`docker info`, not merely a docker CLI) and compose is installed.
func DockerCompose() ([]string, error) {
	if !commandOK(10*time.Second, "docker", "info") {
		return nil, errors.New("no Docker engine: `docker info` failed")
	}
	if commandOK(10*time.Second, "docker", "compose", "version") {
		return []string{"docker", "compose"}, nil
	}
	if commandOK(10*time.Second, "docker-compose", "version") {
		return []string{"docker-compose"}, nil
	}
	return nil, errors.New("a Docker engine answers but neither `docker compose` nor `docker-compose` is installed")
}

func commandOK(timeout time.Duration, name string, args ...string) bool {
	if _, err := exec.LookPath(name); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).Run() == nil
}

// RenderOptions say how RenderEnvoyConfig adapts the bootstrap template.
// Empty fields keep the template's values.
type RenderOptions struct {
	PluginConfig []byte            // the plugin configuration JSON (`svcauth filter-config`)
	WasmPath     string            // where Envoy reads svcauth.wasm
	Listen       string            // host:port of the "ingress" listener
	Admin        string            // host:port of the admin endpoint
	Clusters     map[string]string // cluster name → host:port of its endpoint (several: comma-separated)
}

// RenderEnvoyConfig returns the Envoy bootstrap template (envoy/envoy.yaml)
// with the svcauth filter's plugin configuration, the .wasm path, and the
// listener, admin and cluster addresses replaced. Everything else — the
// filter chain, timeouts, health checks, access log — stays as reviewed and
// schema-checked in the template. The result is YAML (without comments).
func RenderEnvoyConfig(template []byte, o RenderOptions) ([]byte, error) {
	js, err := yaml.YAMLToJSON(template)
	if err != nil {
		return nil, fmt.Errorf("envoy template: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("envoy template: %w", err)
	}
	if o.Admin != "" {
		if err := setSocketAddress(root, o.Admin, "admin", "address"); err != nil {
			return nil, err
		}
	}
	static, _ := root["static_resources"].(map[string]any)
	if static == nil {
		return nil, errors.New("envoy template: no static_resources")
	}
	if o.Listen != "" {
		l := findNamed(static["listeners"], "ingress")
		if l == nil {
			return nil, errors.New(`envoy template: no listener named "ingress"`)
		}
		if err := setSocketAddress(l, o.Listen, "address"); err != nil {
			return nil, err
		}
	}
	for name, addr := range o.Clusters {
		c := findNamed(static["clusters"], name)
		if c == nil {
			return nil, fmt.Errorf("envoy template: no cluster named %q", name)
		}
		if err := setEndpoints(c, strings.Split(addr, ",")); err != nil {
			return nil, fmt.Errorf("cluster %q: %w", name, err)
		}
	}
	if o.PluginConfig != nil || o.WasmPath != "" {
		cfg := findWasmPlugin(static["listeners"])
		if cfg == nil {
			return nil, errors.New("envoy template: no svcauth Wasm filter")
		}
		if o.PluginConfig != nil {
			if !json.Valid(o.PluginConfig) {
				return nil, errors.New("plugin configuration is not JSON")
			}
			conf, _ := cfg["configuration"].(map[string]any)
			if conf == nil {
				return nil, errors.New("envoy template: the svcauth filter has no configuration")
			}
			conf["value"] = string(bytes.TrimSpace(o.PluginConfig)) + "\n"
		}
		if o.WasmPath != "" {
			local, ok := walk(cfg, "vm_config", "code", "local").(map[string]any)
			if !ok {
				return nil, errors.New("envoy template: the svcauth filter has no vm_config.code.local")
			}
			local["filename"] = o.WasmPath
		}
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(out)
}

// walk follows keys (or list indexes) from v.
func walk(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// setEndpoints makes cluster c's endpoints the addresses (host:port): the
// template's one endpoint, repeated for each.
func setEndpoints(c map[string]any, addrs []string) error {
	group, ok := walk(c, "load_assignment", "endpoints", "0").(map[string]any)
	if !ok {
		return errors.New("envoy template: no load_assignment.endpoints.0")
	}
	list, _ := group["lb_endpoints"].([]any)
	if len(list) == 0 {
		return errors.New("envoy template: no lb_endpoints")
	}
	raw, err := json.Marshal(list[0])
	if err != nil {
		return err
	}
	out := make([]any, len(addrs))
	for i, a := range addrs {
		var ep any
		json.Unmarshal(raw, &ep)
		if err := setSocketAddress(ep, strings.TrimSpace(a), "endpoint", "address"); err != nil {
			return err
		}
		out[i] = ep
	}
	group["lb_endpoints"] = out
	return nil
}

func setSocketAddress(v any, hostport string, path ...string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: bad port", hostport)
	}
	addr, ok := walk(v, path...).(map[string]any)
	if !ok {
		return fmt.Errorf("envoy template: no %s", strings.Join(path, "."))
	}
	addr["socket_address"] = map[string]any{"address": host, "port_value": n}
	return nil
}

func findNamed(list any, name string) map[string]any {
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

const wasmFilterType = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"

// findWasmPlugin returns the PluginConfig ("config") of the svcauth Wasm HTTP
// filter in the listeners' HTTP connection managers.
func findWasmPlugin(listeners any) map[string]any {
	ls, _ := listeners.([]any)
	for _, l := range ls {
		chains, _ := walk(l, "filter_chains").([]any)
		for _, ch := range chains {
			filters, _ := walk(ch, "filters").([]any)
			for _, f := range filters {
				hfs, _ := walk(f, "typed_config", "http_filters").([]any)
				for _, hf := range hfs {
					tc, _ := walk(hf, "typed_config").(map[string]any)
					if tc == nil || tc["@type"] != wasmFilterType {
						continue
					}
					if cfg, ok := tc["config"].(map[string]any); ok && cfg["name"] == "svcauth" {
						return cfg
					}
				}
			}
		}
	}
	return nil
}

// EnvoyOptions configure StartEnvoy, like DevProxyOptions do StartDevProxy.
type EnvoyOptions struct {
	BinDir       string            // holds svcauth.wasm
	PluginConfig string            // path of the plugin configuration JSON
	Upstream     string            // URL of the protected app (cluster "app")
	Clusters     map[string]string // cluster name → URL (several: comma-separated), for callouts (e.g. "svcauth-issuer")
	Echo         io.Writer
}

var envoySeq atomic.Int64

// StartEnvoy runs real Envoy with envoy/envoy.yaml rendered for this run:
// listener and admin on free loopback ports, the clusters pointing at the
// given URLs on this machine, and the plugin configuration and .wasm of the
// run. It uses a local Envoy binary, or else Docker (envoy/docker-compose.e2e.yaml,
// host network, the pinned Envoy image). It returns once Envoy's admin
// endpoint says LIVE and every given cluster's hosts are healthy. Without
// Envoy it returns an error wrapping ErrNoEnvoy.
func StartEnvoy(ctx context.Context, o EnvoyOptions) (*Proxy, error) {
	runner, err := FindEnvoy()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	template, err := os.ReadFile(filepath.Join(root, EnvoyTemplatePath))
	if err != nil {
		return nil, err
	}
	plugin, err := os.ReadFile(o.PluginConfig)
	if err != nil {
		return nil, err
	}
	wasm, err := filepath.Abs(filepath.Join(o.BinDir, WasmFile))
	if err != nil {
		return nil, err
	}
	listen, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	clusters := map[string]string{}
	for name, urls := range o.Clusters {
		var addrs []string
		for _, u := range strings.Split(urls, ",") { // several endpoints: URL,URL
			a, err := hostPort(strings.TrimSpace(u))
			if err != nil {
				return nil, fmt.Errorf("cluster %q: %w", name, err)
			}
			addrs = append(addrs, a)
		}
		clusters[name] = strings.Join(addrs, ",")
	}
	if clusters["app"], err = hostPort(o.Upstream); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	ro := RenderOptions{PluginConfig: plugin, Listen: listen, Admin: admin, Clusters: clusters, WasmPath: wasm}
	if runner.Binary == "" {
		ro.WasmPath = "/etc/svcauth/svcauth.wasm" // where the compose file mounts it
	}
	config, err := RenderEnvoyConfig(template, ro)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "svcauth-envoy-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "envoy.yaml")
	// 0644: the Envoy image runs as its own user; the directory stays 0700.
	if err := os.WriteFile(cfgPath, config, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	var proc *process
	cleanup := func() { os.RemoveAll(dir) }
	if runner.Binary != "" {
		proc, err = startProcess("envoy", o.Echo, runner.Binary, "-c", cfgPath,
			"--disable-hot-restart", "--concurrency", "2", "--log-level", "info", "--drain-time-s", "1")
	} else {
		envFile := filepath.Join(dir, "compose.env")
		env := "SVCAUTH_ENVOY_CONFIG=" + cfgPath + "\nSVCAUTH_WASM=" + wasm + "\n"
		if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
			cleanup()
			return nil, err
		}
		base := append(append([]string{}, runner.Compose[1:]...),
			"--env-file", envFile, "-f", filepath.Join(root, ComposeE2EPath),
			"-p", fmt.Sprintf("svcauth-e2e-%d-%d", os.Getpid(), envoySeq.Add(1)))
		down := func() {
			args := append(append([]string{}, base...), "down", "--remove-orphans", "--timeout", "5")
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = exec.CommandContext(dctx, runner.Compose[0], args...).Run()
			os.RemoveAll(dir)
		}
		cleanup = down
		proc, err = startProcess("envoy", o.Echo, runner.Compose[0], append(append([]string{}, base...), "up", "--no-color", "envoy")...)
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	p := &Proxy{URL: "http://" + listen, Kind: TargetEnvoy, AdminURL: "http://" + admin, proc: proc, cleanup: cleanup}
	wait := 30 * time.Second
	if runner.Binary == "" {
		wait = 3 * time.Minute // may pull the image first
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := waitEnvoy(wctx, p, clusters); err != nil {
		p.Stop()
		return nil, fmt.Errorf("envoy (%s): %w", runner, err)
	}
	return p, nil
}

// waitEnvoy polls the admin endpoint until /ready answers LIVE and every
// host of the named clusters is healthy (active health checks have passed).
func waitEnvoy(ctx context.Context, p *Proxy, clusters map[string]string) error {
	names := make([]string, 0, len(clusters))
	for name := range clusters {
		names = append(names, name)
	}
	return waitAdmin(ctx, p.AdminURL, names, p.proc.done, func() string {
		return fmt.Sprintf("exited before it was ready (%v); output:\n%s", p.proc.err, p.Output())
	}, p.Output)
}

// WaitEnvoyAdmin polls Envoy's admin endpoint until /ready answers LIVE and
// every host of the named clusters is healthy, or ctx ends.
func WaitEnvoyAdmin(ctx context.Context, adminURL string, clusters ...string) error {
	return waitAdmin(ctx, adminURL, clusters, nil, nil, func() string { return "" })
}

func waitAdmin(ctx context.Context, admin string, clusters []string, exited <-chan struct{}, whyExited func() string, output func() string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		last := envoyNotReady(client, admin, clusters)
		if last == "" {
			return nil
		}
		select {
		case <-exited:
			return errors.New(whyExited())
		case <-ctx.Done():
			msg := fmt.Sprintf("not ready (%s): %v", last, ctx.Err())
			if out := output(); out != "" {
				msg += "; output:\n" + out
			}
			return errors.New(msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// envoyNotReady returns why Envoy is not ready yet, or "".
func envoyNotReady(client *http.Client, admin string, clusters []string) string {
	body, err := get(client, admin+"/ready")
	if err != nil {
		return "admin /ready: " + err.Error()
	}
	if strings.TrimSpace(body) != "LIVE" {
		return "admin /ready says " + strings.TrimSpace(body)
	}
	body, err = get(client, admin+"/clusters")
	if err != nil {
		return "admin /clusters: " + err.Error()
	}
	for _, name := range clusters {
		hosts := 0
		for _, line := range strings.Split(body, "\n") {
			rest, ok := strings.CutPrefix(line, name+"::")
			if !ok {
				continue
			}
			host, flags, ok := strings.Cut(rest, "::health_flags::")
			if !ok {
				continue
			}
			hosts++
			if flags != "healthy" {
				return "cluster " + name + " host " + host + " is " + flags
			}
		}
		if hosts == 0 {
			return "cluster " + name + " has no host yet"
		}
	}
	return ""
}

func get(client *http.Client, u string) (string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// hostPort returns the host:port of an http URL.
func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("%q: want http://host:port", raw)
	}
	if u.Port() == "" {
		return u.Host + ":80", nil
	}
	return u.Host, nil
}

// StartProxy starts the proxy of the given target (Target()) in front of
// o.Upstream: the dev proxy, or real Envoy with the same plugin configuration,
// clusters and upstream (o.Addr applies to the dev proxy only).
func StartProxy(ctx context.Context, target string, o DevProxyOptions) (*Proxy, error) {
	if target == TargetEnvoy {
		return StartEnvoy(ctx, EnvoyOptions{BinDir: o.BinDir, PluginConfig: o.PluginConfig,
			Upstream: o.Upstream, Clusters: o.Clusters, Echo: o.Echo})
	}
	return StartDevProxy(ctx, o)
}
