// Command svcauth-devproxy runs the svcauth proxy-wasm filter behind a real
// HTTP reverse proxy, on the proxy-wasm SDK's emulator: a development and test
// harness for machines without Envoy. Production runs Envoy. See --help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/svcauth/svcauth/e2e/devproxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := devproxy.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "svcauth-devproxy: %v\n", err)
	}
	os.Exit(devproxy.ExitCode(err))
}
