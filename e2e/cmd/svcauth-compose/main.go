// Command svcauth-compose runs svcauth with real Envoy under docker compose
// (envoy/docker-compose.yaml): `make compose-up`, `make compose-down`, and
// `make run` when a Docker engine is present.
//
//	svcauth-compose up [--foreground]   build and start the issuer and the demo upstream,
//	                                    create a demo app, policy and token on first run,
//	                                    render Envoy's config with the app's plugin
//	                                    configuration, start Envoy, try one exchange and
//	                                    print what to type next; --foreground then follows
//	                                    the logs until Ctrl-C and stops the services
//	svcauth-compose down [--volumes]    stop and remove the containers (--volumes: and the
//	                                    issuer's database and keys)
//
// It runs from the repository root; state (admin key, demo ids, rendered
// config) is kept in --state-dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

const (
	issuerURL = "http://127.0.0.1:8081"
	proxyURL  = "http://127.0.0.1:8080"
	adminURL  = "http://127.0.0.1:9901"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "svcauth-compose:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("usage: svcauth-compose up [--foreground] | down [--volumes]")
	}
	fs := flag.NewFlagSet("svcauth-compose "+args[0], flag.ContinueOnError)
	binDir := fs.String("bin-dir", "build", "directory with svcauth and svcauth.wasm (make build)")
	stateDir := fs.String("state-dir", ".run/compose", "directory for the admin key, demo ids and Envoy's rendered config")
	foreground := fs.Bool("foreground", false, "up: follow the logs until Ctrl-C, then stop the services")
	volumes := fs.Bool("volumes", false, "down: also remove the issuer's volume (database and keys)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := os.Stat(stack.ComposeDemoPath); err != nil {
		return fmt.Errorf("run me from the repository root (%s: %v)", stack.ComposeDemoPath, err)
	}
	compose, err := stack.DockerCompose()
	if err != nil {
		return err
	}
	c := composer{cmd: compose, file: stack.ComposeDemoPath, out: out}
	if args[0] == "down" {
		a := []string{"down", "--remove-orphans"}
		if *volumes {
			a = append(a, "--volumes")
		}
		return c.run(context.Background(), nil, a...)
	}
	if err := up(ctx, c, *binDir, *stateDir, out); err != nil {
		fmt.Fprintf(out, "\nlogs: %s -f %s logs\n", strings.Join(compose, " "), stack.ComposeDemoPath)
		return err
	}
	if !*foreground {
		fmt.Fprintf(out, "\nThe services keep running: `make compose-down` stops them.\n")
		return nil
	}
	fmt.Fprintf(out, "\nFollowing the logs; Ctrl-C stops the services (state stays in the issuer-data volume).\n\n")
	_ = c.run(ctx, nil, "logs", "--follow", "--tail", "0")
	fmt.Fprintln(out, "\nstopping…")
	return c.run(context.Background(), nil, "stop")
}

type composer struct {
	cmd  []string
	file string
	out  io.Writer
}

func (c composer) run(ctx context.Context, env []string, args ...string) error {
	a := append(append(append([]string{}, c.cmd[1:]...), "-f", c.file), args...)
	cmd := exec.CommandContext(ctx, c.cmd[0], a...)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", strings.Join(c.cmd, " "), strings.Join(a[len(c.cmd)-1:], " "), err)
	}
	return nil
}

func (c composer) output(ctx context.Context, args ...string) (string, error) {
	a := append(append(append([]string{}, c.cmd[1:]...), "-f", c.file), args...)
	b, err := exec.CommandContext(ctx, c.cmd[0], a...).Output()
	return strings.TrimSpace(string(b)), err
}

func up(ctx context.Context, c composer, binDir, stateDir string, out io.Writer) error {
	if _, err := os.Stat(filepath.Join(binDir, stack.WasmFile)); err != nil {
		return fmt.Errorf("no %s: run make build first", filepath.Join(binDir, stack.WasmFile))
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	fmt.Fprintln(out, "Building and starting the issuer and the demo upstream…")
	if err := c.run(ctx, nil, "up", "--detach", "--build", "issuer", "upstream"); err != nil {
		return err
	}
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	if err := stack.WaitOK(rctx, issuerURL+"/readyz", nil); err != nil {
		return fmt.Errorf("the issuer is not ready: %w", err)
	}

	// The first admin key: the issuer wrote it into its volume on first start.
	keyFile := filepath.Join(stateDir, "admin.key")
	if _, err := os.Stat(keyFile); err != nil {
		id, err := c.output(ctx, "ps", "--quiet", "issuer")
		if err != nil || id == "" {
			return fmt.Errorf("cannot find the issuer container: %v", err)
		}
		if b, err := exec.CommandContext(ctx, "docker", "cp", id+":/var/lib/svcauth/admin.key", keyFile).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the admin key out of the issuer: %v: %s", err, b)
		}
		_ = os.Chmod(keyFile, 0o600)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	issuer := stack.ExistingIssuer(issuerURL, strings.TrimSpace(string(key)), binDir)

	demo, err := stack.LoadOrCreateDemo(ctx, issuer, filepath.Join(stateDir, "demo.json"))
	if err != nil {
		return err
	}
	pluginConfig := filepath.Join(stateDir, "filter.json")
	if err := issuer.WriteFilterConfig(ctx, demo.App.ID, "svcauth-issuer", pluginConfig); err != nil {
		return err
	}
	plugin, err := os.ReadFile(pluginConfig)
	if err != nil {
		return err
	}
	template, err := os.ReadFile(stack.EnvoyTemplatePath)
	if err != nil {
		return err
	}
	config, err := stack.RenderEnvoyConfig(template, stack.RenderOptions{
		PluginConfig: plugin,
		Listen:       "0.0.0.0:8080",
		Admin:        "0.0.0.0:9901", // published on the host's loopback only
		Clusters:     map[string]string{"svcauth-issuer": "issuer:8081", "app": "upstream:8082"},
		WasmPath:     "/etc/svcauth/svcauth.wasm",
	})
	if err != nil {
		return err
	}
	rendered, err := filepath.Abs(filepath.Join(stateDir, "envoy.yaml"))
	if err != nil {
		return err
	}
	// 0644 inside the 0700 state dir: Envoy's image runs as its own user.
	if err := os.WriteFile(rendered, config, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(out, "Starting Envoy with", rendered)
	if err := c.run(ctx, []string{"SVCAUTH_ENVOY_CONFIG=" + rendered}, "up", "--detach", "--force-recreate", "envoy"); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := stack.WaitEnvoyAdmin(wctx, adminURL, "svcauth-issuer", "app"); err != nil {
		_ = c.run(context.Background(), nil, "logs", "--tail", "50", "envoy")
		return fmt.Errorf("Envoy is not ready: %w", err)
	}
	cookie, err := stack.ExchangeOnce(ctx, proxyURL, demo.Token)
	if err != nil {
		_ = c.run(context.Background(), nil, "logs", "--tail", "50", "envoy")
		return fmt.Errorf("the first request through Envoy failed: %w", err)
	}
	printNextSteps(out, issuer, demo, cookie, stateDir)
	return nil
}

func printNextSteps(out io.Writer, issuer *stack.Issuer, d stack.Demo, cookie, stateDir string) {
	fmt.Fprintf(out, `
svcauth is running in Docker with real Envoy.

  Envoy (the filter)   %s    admin %s
  issuer (admin API)   %s    admin key in %s
  demo app             %s (aud %s)
  demo service token   %s

Try it:

  curl -i %s/hello -H 'CF-Access-Client-Id: %s' -H 'CF-Access-Client-Secret: %s'
  curl -i %s/hello --cookie 'CF_Authorization=%s'
  curl -i %s/hello                      # 401 missing_credentials

Operate it:

  export SVCAUTH_URL=%s SVCAUTH_ADMIN_KEY=$(cat %s)
  build/svcauth tokens list
`, proxyURL, adminURL, issuer.URL, filepath.Join(stateDir, "admin.key"), d.App.ID, d.App.Aud, d.Token.ClientID,
		proxyURL, d.Token.ClientID, d.Token.ClientSecret, proxyURL, cookie, proxyURL,
		issuer.URL, filepath.Join(stateDir, "admin.key"))
}
