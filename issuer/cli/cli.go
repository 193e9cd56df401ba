// Package cli is the svcauth command: the issuer server (svcauth serve) and
// the operator commands that talk to it over its HTTP API. Run drives the
// whole binary, so tests exercise exactly what operators run.
//
// Commands are declarations: cobra's struct, its flags, and a RunE that
// calls one route and prints. Commands whose flags or calls look alike
// (create and update of a policy, get and revoke-sessions of an app) keep
// their own declarations so that each command's help stays next to its
// code; what they really share is in helpers (clientWith, listOfApp,
// listAll, printList).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the server refused or failed, or the command could not finish
	ExitUsage   = 2 // bad flags or arguments
)

// Environment variables the commands read.
const (
	EnvURL      = "SVCAUTH_URL"
	EnvAdminKey = "SVCAUTH_ADMIN_KEY"
	// EnvDB is serve's database when --db is not given: a SQLite file or
	// a postgres:// DSN, kept out of the command line (and ps) with its
	// password.
	EnvDB = "SVCAUTH_DB"
)

// DefaultURL is where the commands look for the issuer.
const DefaultURL = "http://127.0.0.1:8081"

// Run runs the svcauth command line args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, os.Stdin, stdout, stderr, os.Getenv)
}

// failure is an error that ends the command with ExitFailure; any other
// error from cobra is a usage error.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(err error) error {
	if err == nil {
		return nil
	}
	var f *failure
	if errors.As(err, &f) {
		return err
	}
	return &failure{err}
}

func failf(format string, args ...any) error { return &failure{fmt.Errorf(format, args...)} }

// usageError marks a problem the user can fix by changing the command line.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// app is the state shared by the commands of one run.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	url      string
	adminKey string
	output   string
	timeout  time.Duration
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var f *failure
	if errors.As(err, &f) {
		fmt.Fprintf(stderr, "svcauth: %s\n", f.err)
		return ExitFailure
	}
	fmt.Fprintf(stderr, "svcauth: %s\n", err)
	if !strings.Contains(err.Error(), "--help") {
		fmt.Fprintln(stderr, "Run 'svcauth --help' for usage.")
	}
	return ExitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "svcauth",
		Short: "Service-token authentication for Envoy: the issuer and its admin CLI",
		Long: `svcauth issues Cloudflare-Access-compatible service tokens (Client ID + Client Secret)
and exchanges them, for a proxy-wasm filter in Envoy, for short-lived per-application JWTs.

"svcauth serve" runs the issuer. Every other command talks to a running issuer over
its HTTP API, at --url (or $SVCAUTH_URL), with an admin key from --admin-key
(or $SVCAUTH_ADMIN_KEY).`,
		Example: `  # Start the issuer; the first start prints an admin key once.
  svcauth serve --admin-key-file ./admin.key

  export SVCAUTH_ADMIN_KEY=$(cat ./admin.key)
  svcauth tokens create --name ci-deploy
  svcauth apps create --name billing --domain billing.example.com
  svcauth policies create --app APP_ID --decision non_identity --include any_valid_service_token
  svcauth filter-config --app APP_ID > plugin-config.json`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s (see 'svcauth %s --help')", err, strings.TrimPrefix(c.CommandPath(), "svcauth "))
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.url, "url", "", "issuer URL (default $"+EnvURL+" or "+DefaultURL+")")
	pf.StringVar(&a.adminKey, "admin-key", "", "admin key (default $"+EnvAdminKey+")")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each API request")

	root.AddCommand(
		a.serveCommand(),
		a.migrateStoreCommand(),
		a.tokensCommand(),
		a.appsCommand(),
		a.policiesCommand(),
		a.filterConfigCommand(),
		a.keysCommand(),
		a.auditCommand(),
		a.adminKeysCommand(),
	)
	addCompletionCommand(root, a.stdout)
	return root
}

// client checks the shared flags and returns an API client.
// clientWith is client for a command that needs the named flags: a missing
// one is the usage error requireFlags gives, before any request.
func (a *app) clientWith(cmd *cobra.Command, required ...string) (*client, error) {
	if err := requireFlags(cmd, required...); err != nil {
		return nil, err
	}
	return a.client()
}

// checkOutput refuses an --output other than table or json (exit 2).
func (a *app) checkOutput() error {
	if a.output != "table" && a.output != "json" {
		return usagef("--output %q: want table or json", a.output)
	}
	return nil
}

func (a *app) client() (*client, error) {
	if err := a.checkOutput(); err != nil {
		return nil, err
	}
	url := a.url
	if url == "" {
		url = a.getenv(EnvURL)
	}
	if url == "" {
		url = DefaultURL
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, usagef("--url %q: want an http:// or https:// URL", url)
	}
	key := a.adminKey
	if key == "" {
		key = a.getenv(EnvAdminKey)
	}
	if key == "" {
		return nil, usagef("no admin key: pass --admin-key or set $%s (the issuer printed one at first start)", EnvAdminKey)
	}
	return newClient(url, key, a.timeout), nil
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		for i, arg := range args {
			if arg == "" {
				return usagef("%s: %s must not be empty", cmd.CommandPath(), names[i])
			}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments; got %q", cmd.CommandPath(), args)
	}
	return nil
}

// requireFlags returns a usage error naming every required flag not set.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("%s: missing %s", cmd.CommandPath(), strings.Join(missing, ", "))
	}
	return nil
}

// groupRun makes a command that only holds subcommands print its help when
// called alone and refuse unknown subcommands as a usage error.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}
