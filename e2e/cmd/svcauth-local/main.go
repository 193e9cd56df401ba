// Command svcauth-local is what `make run` starts: the issuer on the embedded
// SQLite default, a demo upstream that echoes request headers, and the dev
// proxy running the real svcauth.wasm in front of it. It creates a demo app,
// policy and service token on first run, keeps state in --state-dir, and
// prints what to type next. Production runs the filter in Envoy.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/svcauth/svcauth/e2e/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "svcauth-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("svcauth-local", flag.ContinueOnError)
	binDir := fs.String("bin-dir", "build", "directory with svcauth, svcauth-devproxy and svcauth.wasm")
	stateDir := fs.String("state-dir", ".run", "directory for the SQLite database, keys and logs")
	issuerAddr := fs.String("issuer-listen", "127.0.0.1:8081", "issuer listen address")
	proxyAddr := fs.String("proxy-listen", "127.0.0.1:8080", "dev proxy listen address")
	upstreamAddr := fs.String("upstream-listen", "127.0.0.1:8082", "demo upstream listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		return err
	}

	issuerLog, err := os.OpenFile(filepath.Join(*stateDir, "issuer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer issuerLog.Close()
	issuer, err := stack.StartIssuer(ctx, stack.IssuerOptions{BinDir: *binDir, StateDir: *stateDir, Addr: *issuerAddr, Echo: issuerLog})
	if err != nil {
		return err
	}
	defer issuer.Stop()

	demo, err := stack.LoadOrCreateDemo(ctx, issuer, filepath.Join(*stateDir, "demo.json"))
	if err != nil {
		return err
	}
	pluginConfig := filepath.Join(*stateDir, "filter.json")
	if err := issuer.WriteFilterConfig(ctx, demo.App.ID, "svcauth-issuer", pluginConfig); err != nil {
		return err
	}

	upstream, err := net.Listen("tcp", *upstreamAddr)
	if err != nil {
		return fmt.Errorf("demo upstream: %w", err)
	}
	go func() { _ = http.Serve(upstream, &stack.EchoUpstream{}) }()
	defer upstream.Close()

	proxyLog, err := os.OpenFile(filepath.Join(*stateDir, "devproxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer proxyLog.Close()
	proxy, err := stack.StartDevProxy(ctx, stack.DevProxyOptions{
		BinDir: *binDir, PluginConfig: pluginConfig, Addr: *proxyAddr,
		Upstream: "http://" + upstream.Addr().String(),
		Clusters: map[string]string{"svcauth-issuer": issuer.URL},
		Echo:     proxyLog,
	})
	if err != nil {
		return err
	}
	defer proxy.Stop()

	cookie, err := stack.ExchangeOnce(ctx, proxy.URL, demo.Token)
	if err != nil {
		return fmt.Errorf("first request through the proxy failed: %w (logs in %s)", err, *stateDir)
	}
	printNextSteps(out, issuer, proxy, demo, cookie, *stateDir)
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping…")
	return nil
}

func printNextSteps(out io.Writer, issuer *stack.Issuer, proxy *stack.DevProxy, d stack.Demo, cookie, stateDir string) {
	fmt.Fprintf(out, `
svcauth is running (local development setup; production runs the filter in Envoy).

  issuer      %[1]s        (SQLite: %[6]s/svcauth.db, log: %[6]s/issuer.log)
  dashboard   %[1]s/ui/    (sign in with the admin key below)
  dev proxy   %[2]s        (the real build/svcauth.wasm on wazero, log: %[6]s/devproxy.log)
  admin key   %[3]s
              (also in %[6]s/admin.key; export SVCAUTH_ADMIN_KEY=$(cat %[6]s/admin.key) SVCAUTH_URL=%[1]s)

Without credentials the filter answers 401:
  curl -i %[2]s/

With the demo service token's headers (the filter exchanges them at the issuer and sets a cookie):
  curl -i -H 'CF-Access-Client-Id: %[4]s' -H 'CF-Access-Client-Secret: %[5]s' %[2]s/

With the session cookie alone (checked in the filter, no call to the issuer):
  curl -i -H 'Cookie: CF_Authorization=%[7]s' %[2]s/

Manage tokens with the CLI, e.g.:
  build/svcauth tokens list
  build/svcauth tokens create --name my-ci-job

Press Ctrl-C to stop.
`, issuer.URL, proxy.URL, issuer.AdminKey, d.Token.ClientID, d.Token.ClientSecret, stateDir, cookie)
}
