package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func (a *app) tokensCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token", "service-tokens"},
		Short:   "Manage service tokens (Client ID + Client Secret pairs)",
		Long: `Manage service tokens: Client ID + Client Secret pairs that automated clients send
as CF-Access-Client-Id and CF-Access-Client-Secret, as with Cloudflare Access.

A token's status is active, expiring (expires within 7 days), expired or disabled.
Its secret is shown only by create and rotate.`,
		Example: `  svcauth tokens create --name ci-deploy --duration 8760h
  svcauth tokens list
  svcauth tokens rotate TOKEN_ID --grace 24h
  svcauth tokens import --name legacy-ci --client-id CLIENT_ID --client-secret-file ./secret.txt`,
		RunE: groupRun,
	}
	cmd.AddCommand(a.tokensCreate(), a.tokensList(), a.tokensGet())
	cmd.AddCommand(a.tokenLifecycleCommands()...)
	return cmd
}

func (a *app) tokensCreate() *cobra.Command {
	var req apiv1.CreateTokenRequest
	cmd := &cobra.Command{
		Use:   "create --name NAME [--duration 8760h]",
		Short: "Create a service token; its client secret is shown only now",
		Example: `  svcauth tokens create --name ci-deploy
  svcauth tokens create --name nightly-backup --duration 720h -o json
  svcauth tokens create --name legacy-cron --duration forever`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.clientWith(cmd, "name")
			if err != nil {
				return err
			}
			var tok apiv1.Token
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/service-tokens", nil, req, &tok); err != nil {
				return err
			}
			if a.output == "json" {
				return fail(printJSON(a.stdout, tok))
			}
			if err := a.printToken(tok); err != nil {
				return fail(err)
			}
			a.warnf("Copy the client secret now: it is never shown again.\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "token name (unique)")
	cmd.Flags().StringVar(&req.Duration, "duration", "8760h", `lifetime in Go syntax ("8760h", "720h") or "forever"`)
	return cmd
}

func (a *app) tokensList() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "list [--name NAME]",
		Aliases: []string{"ls"},
		Short:   "List service tokens, sorted by name",
		Example: `  svcauth tokens list
  svcauth tokens list --name ci-deploy -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			if name != "" {
				q.Set("name", name)
			}
			tokens, err := listAll[apiv1.Token](cmd.Context(), c, "/v1/service-tokens", q, "after")
			if err != nil {
				return err
			}
			return printList(a, tokens, []string{"ID", "NAME", "CLIENT ID", "STATUS", "EXPIRES", "LAST SEEN"}, func(t apiv1.Token) []string {
				return []string{t.ID, t.Name, t.ClientID, t.Status, fmtTime(t.ExpiresAt), fmtTime(t.LastSeenAt)}
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only the token with this name")
	return cmd
}

func (a *app) tokensGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get TOKEN_ID",
		Short:   "Show one service token (never its secret)",
		Example: `  svcauth tokens get 1b4e28ba-2fa1-41d2-883f-0016d3cca427 -o json`,
		Args:    exactArgs("TOKEN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var tok apiv1.Token
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/service-tokens/"+url.PathEscape(args[0]), nil, nil, &tok); err != nil {
				return err
			}
			if a.output == "json" {
				return fail(printJSON(a.stdout, tok))
			}
			return fail(a.printToken(tok))
		},
	}
}

func (a *app) printToken(t apiv1.Token) error {
	pairs := []string{"ID", t.ID, "Name", t.Name, "Client ID", t.ClientID}
	if t.ClientSecret != "" {
		pairs = append(pairs, "Client Secret", t.ClientSecret)
	}
	pairs = append(pairs,
		"Status", t.Status,
		"Duration", t.Duration,
		"Expires", fmtTime(t.ExpiresAt),
		"Secret version", strconv.Itoa(t.ClientSecretVersion),
	)
	if t.PreviousSecretExpiresAt != nil {
		pairs = append(pairs, "Previous secret until", fmtTime(t.PreviousSecretExpiresAt))
	}
	pairs = append(pairs, "Created", fmtTime(&t.CreatedAt), "Last seen", fmtTime(t.LastSeenAt))
	return fields(a.stdout, pairs...)
}

func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, format, args...)
}
