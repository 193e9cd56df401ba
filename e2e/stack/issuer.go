package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Issuer is a running `svcauth serve` process with its state in one directory.
type Issuer struct {
	URL      string
	AdminKey string
	binDir   string
	stateDir string
	addr     string
	echo     io.Writer
	proc     *process
	iss      string // --issuer-url
	db       string // PostgreSQL DSN, or "" for SQLite
	extra    []string
}

// IssuerOptions configure StartIssuer. Zero values pick a free port and keep
// state under StateDir.
type IssuerOptions struct {
	BinDir   string
	StateDir string
	Addr     string    // listen address; "" picks a free loopback port
	Echo     io.Writer // copy of the issuer's output (nil: kept only for reports)
	// IssuerURL is the iss of sessions (--issuer-url); "" is the issuer's URL.
	IssuerURL string
	// DB, when set, is a postgres:// DSN, given in $SVCAUTH_DB (as a
	// password should be); else the issuer uses SQLite in StateDir.
	// Replicas on one database share StateDir (its master key).
	DB string
	// Args are more serve flags.
	Args []string
}

// StartIssuer starts the issuer and waits for /healthz. The admin key is read
// from the --admin-key-file the issuer writes on first start.
func StartIssuer(ctx context.Context, o IssuerOptions) (*Issuer, error) {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, err
	}
	addr := o.Addr
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	i := &Issuer{URL: "http://" + addr, binDir: o.BinDir, stateDir: o.StateDir, addr: addr, echo: o.Echo, iss: o.IssuerURL, db: o.DB, extra: o.Args}
	if i.iss == "" {
		i.iss = i.URL
	}
	if err := i.Start(ctx); err != nil {
		return nil, err
	}
	return i, nil
}

// Start (re)starts the issuer process on the same address and state.
func (i *Issuer) Start(ctx context.Context) error {
	keyFile := filepath.Join(i.stateDir, "admin.key")
	args := []string{"serve", "--listen", i.addr,
		"--master-key-file", filepath.Join(i.stateDir, "master.key"),
		"--admin-key-file", keyFile,
		"--issuer-url", i.iss,
	}
	args = append(args, i.extra...)
	var env []string
	if i.db != "" {
		env = []string{"SVCAUTH_DB=" + i.db}
	} else {
		args = append(args, "--db", filepath.Join(i.stateDir, "svcauth.db"))
	}
	proc, err := startProcessEnv("issuer", i.echo, env, filepath.Join(i.binDir, IssuerBinary), args...)
	if err != nil {
		return err
	}
	i.proc = proc
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := proc.waitHTTP(wctx, i.URL+"/healthz"); err != nil {
		proc.stop()
		return err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		proc.stop()
		return fmt.Errorf("issuer did not write its admin key file: %w", err)
	}
	i.AdminKey = strings.TrimSpace(string(key))
	return nil
}

// Kill ends the issuer process with SIGKILL (a node dying): no shutdown.
func (i *Issuer) Kill() { i.proc.kill() }

// Stop ends the issuer process; Start brings it back with the same state.
func (i *Issuer) Stop() { i.proc.stop() }

// Output is what the issuer printed since its last start.
func (i *Issuer) Output() string { return i.proc.Output() }

// CLI runs `svcauth <args> -o json` against this issuer and decodes the JSON
// output into out (when non-nil). A non-zero exit is an error carrying stderr.
func (i *Issuer) CLI(ctx context.Context, out any, args ...string) error {
	stdout, stderr, code, err := i.RunCLI(ctx, append(args, "-o", "json")...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("svcauth %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		return fmt.Errorf("svcauth %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
	return nil
}

// RunCLI runs the CLI with the issuer URL and admin key in its environment and
// returns its output and exit code as they are.
func (i *Issuer) RunCLI(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(i.binDir, IssuerBinary), args...)
	cmd.Env = append(os.Environ(), "SVCAUTH_URL="+i.URL, "SVCAUTH_ADMIN_KEY="+i.AdminKey)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	runErr := cmd.Run()
	if exit, ok := runErr.(*exec.ExitError); ok {
		return o.String(), e.String(), exit.ExitCode(), nil
	}
	if runErr != nil {
		return o.String(), e.String(), -1, runErr
	}
	return o.String(), e.String(), 0, nil
}
