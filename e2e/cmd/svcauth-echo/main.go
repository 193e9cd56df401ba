// Command svcauth-echo is the demo upstream of the docker-compose setup
// (envoy/docker-compose.yaml): it answers every request with its method, path
// and headers as JSON — the same answer as the e2e suite's in-process echo
// upstream (stack.EchoUpstream), so a person can see exactly what Envoy
// forwarded (the Cf-Access-Jwt-Assertion header, no client secret).
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

func main() {
	listen := flag.String("listen", "0.0.0.0:8082", "listen address")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: &stack.EchoUpstream{}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "svcauth-echo: listening on", *listen)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "svcauth-echo:", err)
		os.Exit(1)
	}
}
