// Command svcauth-loadgen benchmarks the issuer's exchange endpoint over
// loopback HTTP: throughput and latency percentiles at several numbers of
// concurrent clients. See issuer/loadgen.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/svcauth/svcauth/issuer/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := loadgen.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
