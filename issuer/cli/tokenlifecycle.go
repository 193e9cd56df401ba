package cli

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

// tokenAction is a command TOKEN_ID that sends one request and shows the
// token it gets back.
func (a *app) tokenAction(use, short, example, method, suffix string, body func() (any, error)) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs("TOKEN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in any
			if body != nil {
				var err error
				if in, err = body(); err != nil {
					return err
				}
			}
			return a.sendTokenRequest(cmd, method, "/v1/service-tokens/"+url.PathEscape(args[0])+suffix, in)
		},
	}
}

func (a *app) sendTokenRequest(cmd *cobra.Command, method, path string, in any) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	var tok apiv1.Token
	if err := c.do(cmd.Context(), method, path, nil, in, &tok); err != nil {
		return err
	}
	if a.output == "json" {
		return fail(printJSON(a.stdout, tok))
	}
	if err := a.printToken(tok); err != nil {
		return fail(err)
	}
	if tok.ClientSecret != "" {
		a.warnf("Copy the new client secret now: it is never shown again.\n")
	}
	return nil
}

func (a *app) tokenLifecycleCommands() []*cobra.Command {
	rename := &cobra.Command{
		Use:     "rename TOKEN_ID NEW_NAME",
		Short:   "Rename a service token",
		Example: `  svcauth tokens rename TOKEN_ID ci-deploy-prod`,
		Args:    exactArgs("TOKEN_ID", "NEW_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sendTokenRequest(cmd, http.MethodPatch, "/v1/service-tokens/"+url.PathEscape(args[0]), apiv1.UpdateTokenRequest{Name: &args[1]})
		},
	}

	var duration string
	setDuration := &cobra.Command{
		Use:     "set-duration TOKEN_ID DURATION",
		Short:   "Change a token's duration; its expiry restarts from now",
		Example: `  svcauth tokens set-duration TOKEN_ID 720h`,
		Args:    exactArgs("TOKEN_ID", "DURATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			duration = args[1]
			return a.sendTokenRequest(cmd, http.MethodPatch, "/v1/service-tokens/"+url.PathEscape(args[0]), apiv1.UpdateTokenRequest{Duration: &duration})
		},
	}

	yes, no := true, false
	enable := a.tokenAction("enable TOKEN_ID", "Enable a service token", `  svcauth tokens enable TOKEN_ID`, http.MethodPatch, "",
		func() (any, error) { return apiv1.UpdateTokenRequest{Enabled: &yes}, nil })
	disable := a.tokenAction("disable TOKEN_ID", "Disable a service token: its exchanges fail at once", `  svcauth tokens disable TOKEN_ID`, http.MethodPatch, "",
		func() (any, error) { return apiv1.UpdateTokenRequest{Enabled: &no}, nil })
	refresh := a.tokenAction("refresh TOKEN_ID", "Extend a token's expiry to now + its duration",
		`  svcauth tokens refresh TOKEN_ID`, http.MethodPost, "/refresh", nil)

	var grace time.Duration
	rotate := a.tokenAction("rotate TOKEN_ID [--grace 24h]", "Give a token a new client secret (shown once)",
		`  # The old secret stops working at once:
  svcauth tokens rotate TOKEN_ID
  # The old secret keeps working for a day while clients move over:
  svcauth tokens rotate TOKEN_ID --grace 24h`,
		http.MethodPost, "/rotate", func() (any, error) {
			if grace < 0 || grace > 720*time.Hour {
				return nil, usagef("--grace %s: want 0 to 720h", grace)
			}
			req := apiv1.RotateTokenRequest{}
			if grace > 0 {
				req.Grace = grace.String()
			}
			return req, nil
		})
	rotate.Flags().DurationVar(&grace, "grace", 0, "keep the previous secret working this long (at most 720h)")

	var force bool
	del := &cobra.Command{
		Use:   "delete TOKEN_ID [--force]",
		Short: "Delete a service token; it can never exchange again",
		Long: `Delete a service token. A token that policies name is kept unless --force is
given; then it is also removed from those policies.`,
		Example: `  svcauth tokens delete TOKEN_ID
  svcauth tokens delete TOKEN_ID --force`,
		Args: exactArgs("TOKEN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if force {
				q.Set("force", "true")
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/v1/service-tokens/"+url.PathEscape(args[0]), q, nil, nil); err != nil {
				return err
			}
			return a.printDeleted("service token", args[0])
		},
	}
	del.Flags().BoolVar(&force, "force", false, "delete even if policies name the token (removing it from them)")

	var req apiv1.ImportTokenRequest
	var secretFile string
	imp := &cobra.Command{
		Use:   "import --name NAME --client-id CLIENT_ID --client-secret-file FILE|- [--duration 8760h]",
		Short: "Register a client id + secret pair that clients already hold (e.g. from Cloudflare Access)",
		Long: `Register an existing client id and secret, for example a Cloudflare Access service
token, so clients keep working unchanged. The secret is read from a file, or from
standard input with "-", never from a flag. Accepted: 64 lowercase hex (Cloudflare's
form) or a svcauth secret.`,
		Example: `  svcauth tokens import --name legacy-ci --client-id 0123456789abcdef0123456789abcdef.access --client-secret-file ./secret.txt
  pass show cf/legacy-ci | svcauth tokens import --name legacy-ci --client-id ID --client-secret-file -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "name", "client-id", "client-secret-file"); err != nil {
				return err
			}
			if !credential.ValidClientID(req.ClientID) {
				return usagef("--client-id %q: want 32 lowercase hex followed by .access", req.ClientID)
			}
			var r io.Reader = a.stdin
			if secretFile != "-" {
				f, err := os.Open(secretFile)
				if err != nil {
					return fail(err)
				}
				defer f.Close()
				r = f
			}
			b, err := io.ReadAll(io.LimitReader(r, 4096))
			if err != nil {
				return fail(err)
			}
			req.ClientSecret = strings.TrimSpace(string(b))
			if !credential.ValidSecret(req.ClientSecret) {
				return failf("the secret in %s is not 64 lowercase hex nor a svcauth secret", secretFile)
			}
			return a.sendTokenRequest(cmd, http.MethodPost, "/v1/service-tokens/import", req)
		},
	}
	imp.Flags().StringVar(&req.Name, "name", "", "token name (unique)")
	imp.Flags().StringVar(&req.ClientID, "client-id", "", "the existing client id")
	imp.Flags().StringVar(&secretFile, "client-secret-file", "", `file holding the secret, or "-" for standard input`)
	imp.Flags().StringVar(&req.Duration, "duration", "8760h", `lifetime in Go syntax or "forever"`)

	return []*cobra.Command{rename, setDuration, enable, disable, refresh, rotate, del, imp}
}
