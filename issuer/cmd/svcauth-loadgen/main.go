// Command svcauth-loadgen benchmarks the issuer's exchange endpoint over
// loopback HTTP: throughput and latency percentiles at several numbers of
// concurrent clients; `svcauth-loadgen abuse` what a flood of failed
// exchanges costs (issuer/loadgen/abuse.go). See issuer/loadgen.
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
	run := loadgen.Run
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "abuse" {
		run, args = loadgen.RunAbuse, args[1:]
	}
	code := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
