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

// DevProxy is a running svcauth-devproxy: the real svcauth.wasm on wazero.
type DevProxy struct {
	URL  string
	proc *process
}

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
			return &DevProxy{URL: m[1], proc: proc}, nil
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

// Stop ends the dev proxy.
func (d *DevProxy) Stop() { d.proc.stop() }

// Output is what the dev proxy printed.
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
