package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func (a *app) appsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apps",
		Aliases: []string{"app", "applications"},
		Short:   "Manage applications (what a filter protects)",
		Example: `  svcauth apps create --name billing --domain billing.example.com
  svcauth apps list
  svcauth apps update APP_ID --session-duration 1h
  svcauth apps revoke-sessions APP_ID`,
		RunE: groupRun,
	}
	cmd.AddCommand(a.appsCreate(), a.appsList(), a.appsGet(), a.appsUpdate(), a.appsRevokeSessions(), a.appsDelete())
	return cmd
}

func (a *app) appsCreate() *cobra.Command {
	var req apiv1.CreateAppRequest
	cmd := &cobra.Command{
		Use:   "create --name NAME --domain HOST [--domain HOST...] [--session-duration 24h] [--session-algorithm HS256|RS256]",
		Short: "Create an application; it gets a random audience tag (aud) and its own signing key",
		Long: `Create an application. Its sessions are signed with HS256 (the default: a key shared
with the filters, the fastest check) or RS256 (--session-algorithm RS256: the issuer holds
the private key, filters and origins get only the public key, and origins can verify
Cf-Access-Jwt-Assertion with the issuer's /cdn-cgi/access/certs as they do Cloudflare's).`,
		Example: `  svcauth apps create --name billing --domain billing.example.com
  svcauth apps create --name grafana --domain grafana.example.com --session-algorithm RS256
  svcauth apps create --name admin --domain example.com/admin --domain "*.internal.example.com" --session-duration 1h -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.clientWith(cmd, "name", "domain")
			if err != nil {
				return err
			}
			var out apiv1.App
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/apps", nil, req, &out); err != nil {
				return err
			}
			return fail(a.printApp(out))
		},
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "application name (unique)")
	cmd.Flags().StringArrayVar(&req.Domains, "domain", nil, "host[/path] the application serves (repeatable)")
	cmd.Flags().StringVar(&req.SessionDuration, "session-duration", "24h", "lifetime of session JWTs (at most 730h)")
	cmd.Flags().StringVar(&req.SessionAlgorithm, "session-algorithm", "HS256", "HS256 (shared key, verified in the filter) or RS256 (origins verify with the certs endpoint)")
	return cmd
}

func (a *app) appsList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List applications",
		Example: `  svcauth apps list
  svcauth apps list -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			apps, err := listAll[apiv1.App](cmd.Context(), c, "/v1/apps", nil, "")
			if err != nil {
				return err
			}
			return printList(a, apps, []string{"ID", "NAME", "AUD", "DOMAINS", "SESSION", "ALG"}, func(x apiv1.App) []string {
				return []string{x.ID, x.Name, x.AUD, strings.Join(x.Domains, ","), x.SessionDuration, x.SessionAlgorithm}
			})
		},
	}
}

func (a *app) appsGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get APP_ID",
		Short:   "Show one application",
		Example: `  svcauth apps get APP_ID -o json`,
		Args:    exactArgs("APP_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var out apiv1.App
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/apps/"+url.PathEscape(args[0]), nil, nil, &out); err != nil {
				return err
			}
			return fail(a.printApp(out))
		},
	}
}

func (a *app) printApp(x apiv1.App) error {
	if a.output == "json" {
		return printJSON(a.stdout, x)
	}
	return fields(a.stdout,
		"ID", x.ID,
		"Name", x.Name,
		"Domains", strings.Join(x.Domains, ", "),
		"AUD", x.AUD,
		"Session duration", x.SessionDuration,
		"Session algorithm", x.SessionAlgorithm,
		"Key", x.KeyID+" (version "+strconv.Itoa(x.KeyVersion)+")",
		"Sessions not before", fmtTime(x.SessionsNotBefore),
		"Created", fmtTime(&x.CreatedAt),
	)
}

func (a *app) appsRevokeSessions() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-sessions APP_ID",
		Short: "Invalidate every session JWT issued so far for an application",
		Long: `Invalidate the application's existing session JWTs. Service tokens keep their access:
their next request simply exchanges its credentials again.`,
		Example: `  svcauth apps revoke-sessions APP_ID`,
		Args:    exactArgs("APP_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var out apiv1.App
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/apps/"+url.PathEscape(args[0])+"/revoke-sessions", nil, nil, &out); err != nil {
				return err
			}
			return fail(a.printApp(out))
		},
	}
}

func (a *app) appsDelete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP_ID",
		Short: "Delete an application and its policies",
		Long: `Delete an application and its policies. Filters still configured for it can no
longer exchange credentials (the issuer no longer knows its audience).`,
		Example: `  svcauth apps delete APP_ID`,
		Args:    exactArgs("APP_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/v1/apps/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
				return err
			}
			return a.printDeleted("application", args[0])
		},
	}
}
