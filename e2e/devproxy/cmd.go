package devproxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

const usage = `svcauth-devproxy — run a proxy-wasm plugin (build/svcauth.wasm) behind a real
HTTP reverse proxy, through the proxy-wasm Go SDK's proxytest emulator on wazero.

This is a development and test harness for machines without Envoy.
It is not a production proxy: production runs Envoy (see envoy/envoy.yaml).

Usage:
  svcauth-devproxy --wasm build/svcauth.wasm --plugin-config FILE \
      --listen 127.0.0.1:8080 --upstream URL --cluster NAME=URL [--cluster NAME=URL ...]

Flags:
  --wasm PATH              compiled plugin (default build/svcauth.wasm)
  --plugin-config FILE     plugin configuration, passed as Envoy's "configuration"
                           (e.g. the output of "svcauth filter-config --app ID");
                           empty when not given
  --listen ADDR            address to listen on (default 127.0.0.1:8080; port 0 picks
                           a free port); the line "svcauth-devproxy: listening on
                           http://ADDR" is printed on stdout once requests are served
  --upstream URL           where requests the plugin lets through go (http(s)://host:port)
  --cluster NAME=URL       an Envoy cluster the plugin's dispatch_http_call may name;
                           repeatable. Calls to other clusters fail as in Envoy
                           (the plugin sees a response with no headers).
                           NAME=URL,URL,... is a cluster of several endpoints:
                           round robin, an endpoint refusing connections left
                           out for 5s (Envoy's outlier detection)
  --callout-timeout D      timeout of a callout whose own timeout cannot be read
                           (default: the plugin configuration's issuer.timeout_ms, else 5s)

What it does, per request: the plugin's request-headers callback (with :method,
:path, :authority, :scheme; x-request-id generated when absent; the client
address as the property source.address, the arrival time as request.time —
the plugin's own WASI clock is wazero's fake one); callouts over real HTTP to the
--cluster URLs with the call's timeout; the plugin's local reply, or the
upstream response through its response-headers callback; the stream-done
callback. Ticks are delivered on the period the plugin sets. Plugin logs go to
stderr; callout headers and bodies (they carry client secrets) are never logged.

Limitations: requests are processed by the plugin one at a time (the emulator is
global and not thread-safe), a request's callouts are made one after another;
body and trailer callbacks are not delivered (bodies pass through untouched); no
WebSocket upgrades; memory grows with the number of requests (the emulator never
frees per-stream state) — restart it now and then on long runs.
`

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e usageError) Unwrap() error { return e.err }

// ExitCode maps Run's error to a process exit status: 0, 2 for a usage
// error, 1 otherwise.
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	default:
		return 1
	}
}

// clusterFlag collects repeated --cluster NAME=URL.
type clusterFlag map[string]string

func (c clusterFlag) String() string {
	names := make([]string, 0, len(c))
	for n, u := range c {
		names = append(names, n+"="+u)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (c clusterFlag) Set(v string) error {
	name, u, ok := strings.Cut(v, "=")
	if !ok || name == "" || u == "" {
		return fmt.Errorf("want NAME=URL, got %q", v)
	}
	if _, dup := c[name]; dup {
		return fmt.Errorf("cluster %q given twice", name)
	}
	c[name] = u
	return nil
}

// options are the parsed command line.
type options struct {
	wasm, pluginConfig, listen, upstream string
	clusters                             clusterFlag
	calloutTimeout                       time.Duration
}

// parseFlags parses args; help is true when --help was asked for.
func parseFlags(args []string) (o options, help bool, err error) {
	fs := flag.NewFlagSet("svcauth-devproxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	o.clusters = clusterFlag{}
	fs.StringVar(&o.wasm, "wasm", "build/svcauth.wasm", "")
	fs.StringVar(&o.pluginConfig, "plugin-config", "", "")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "")
	fs.StringVar(&o.upstream, "upstream", "", "")
	fs.Var(o.clusters, "cluster", "")
	fs.DurationVar(&o.calloutTimeout, "callout-timeout", 0, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, true, nil
		}
		return o, false, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, false, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var problems []error
	if o.upstream == "" {
		problems = append(problems, errors.New("--upstream is required"))
	}
	if o.wasm == "" {
		problems = append(problems, errors.New("--wasm is required"))
	}
	if o.calloutTimeout < 0 {
		problems = append(problems, errors.New("--callout-timeout must not be negative"))
	}
	if o.upstream != "" {
		if _, _, err := parseTargets(o.upstream, o.clusters); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return o, false, usageError{errors.Join(problems...)}
	}
	return o, false, nil
}

// Run is the svcauth-devproxy command. It serves until ctx is cancelled, then
// shuts down gracefully. The listening line goes to stdout; plugin logs, the
// access log and the proxy's own messages go to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, help, err := parseFlags(args)
	if help {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(o.wasm)
	if err != nil {
		return fmt.Errorf("reading the plugin: %w", err)
	}
	var pluginConfig []byte
	if o.pluginConfig != "" {
		if pluginConfig, err = os.ReadFile(o.pluginConfig); err != nil {
			return fmt.Errorf("reading the plugin configuration: %w", err)
		}
	}
	p, err := New(Config{
		Wasm:           wasm,
		PluginConfig:   pluginConfig,
		Upstream:       o.upstream,
		Clusters:       o.clusters,
		CalloutTimeout: o.calloutTimeout,
		Log:            stderr,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(p.out, "svcauth-devproxy: http: ", 0),
	}
	p.logf("plugin %s started (%d bytes); upstream %s; clusters: %s",
		o.wasm, len(wasm), p.upstream, strings.Join(p.clusterList(), ", "))
	p.logf("development and test harness — production runs Envoy")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "svcauth-devproxy: listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	p.logf("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	return p.Close()
}

func (p *Proxy) clusterList() []string {
	var out []string
	for _, n := range p.clusterNames() {
		if u, ok := p.clusters[n]; ok {
			out = append(out, n+"="+u.String())
		} else {
			out = append(out, n)
		}
	}
	return out
}
