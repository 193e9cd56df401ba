package stack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Proxy is a running proxy in front of the upstream: the dev proxy (the real
// svcauth.wasm on wazero) or, for E2E_TARGET=envoy, real Envoy (StartEnvoy).
type Proxy struct {
	URL      string
	Kind     string // TargetDevProxy or TargetEnvoy
	AdminURL string // Envoy's admin endpoint; "" for the dev proxy
	proc     *process
	cleanup  func()
}

// DevProxy is the name the dev-proxy-only callers use for a Proxy.
type DevProxy = Proxy

// DevProxyOptions configure StartDevProxy.
type DevProxyOptions struct {
	BinDir       string
	PluginConfig string            // path of the plugin configuration JSON
	Upstream     string            // URL requests are proxied to
	Clusters     map[string]string // Envoy cluster name → URL, for callouts
	Addr         string            // "" → 127.0.0.1:0
	Echo         io.Writer
}

var listeningLine = regexp.MustCompile(`listening on (http://[^\s]+)`)

// StartDevProxy starts the dev proxy and waits for its "listening on" line.
func StartDevProxy(ctx context.Context, o DevProxyOptions) (*DevProxy, error) {
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := []string{
		"--wasm", filepath.Join(o.BinDir, WasmFile),
		"--plugin-config", o.PluginConfig,
		"--listen", addr,
		"--upstream", o.Upstream,
	}
	for name, url := range o.Clusters {
		args = append(args, "--cluster", name+"="+url)
	}
	proc, err := startProcess("devproxy", o.Echo, filepath.Join(o.BinDir, DevProxyBinary), args...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningLine.FindStringSubmatch(proc.Output()); m != nil {
			return &DevProxy{URL: m[1], Kind: TargetDevProxy, proc: proc}, nil
		}
		select {
		case <-proc.done:
			return nil, fmt.Errorf("dev proxy exited (%v); output:\n%s", proc.err, proc.Output())
		case <-ctx.Done():
			proc.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	proc.stop()
	return nil, fmt.Errorf("dev proxy printed no listening line within 30 s; output:\n%s", proc.Output())
}

// Stop ends the proxy (and, for Envoy in Docker, removes its containers).
func (d *DevProxy) Stop() {
	d.proc.stop()
	if d.cleanup != nil {
		d.cleanup()
		d.cleanup = nil
	}
}

// Output is what the proxy printed (for Envoy: its log and access log).
func (d *DevProxy) Output() string { return d.proc.Output() }

// LogLines returns the output lines containing substr.
func (d *DevProxy) LogLines(substr string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(d.Output()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}
