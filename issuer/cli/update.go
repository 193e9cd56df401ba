package cli

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// appsUpdate is `svcauth apps update`: PATCH /v1/apps/{id}.
func (a *app) appsUpdate() *cobra.Command {
	var (
		name, session, alg, after string
		domains                   []string
	)
	cmd := &cobra.Command{
		Use:   "update APP_ID [--name NAME] [--domain HOST...] [--session-duration 24h] [--session-algorithm RS256 [--activate-after 30s]]",
		Short: "Rename an application, replace its domains, change its session duration or algorithm",
		Long: `Change an application. Only the flags given change; --domain (repeatable) replaces
the whole list. A new session duration applies to sessions issued from now on.
The audience tag (aud) never changes.

--session-algorithm switches between HS256 and RS256 with a key rotation: a key of the
new kind is published at once and signs after --activate-after (default 30s); sessions
signed with the old key stay valid until they expire. Filters holding only RS256 public
keys cannot learn an HS256 secret by sync: after switching an RS256 application to
HS256, deploy its new filter-config before --activate-after ends.`,
		Example: `  svcauth apps update APP_ID --name billing-prod
  svcauth apps update APP_ID --domain billing.example.com --domain api.example.com/billing
  svcauth apps update APP_ID --session-algorithm RS256 --activate-after 2m
  svcauth apps update APP_ID --session-duration 1h -o json`,
		Args: exactArgs("APP_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if !f.Changed("name") && !f.Changed("domain") && !f.Changed("session-duration") && !f.Changed("session-algorithm") {
				return usagef("%s: nothing to change: give --name, --domain, --session-duration or --session-algorithm", cmd.CommandPath())
			}
			if f.Changed("activate-after") && !f.Changed("session-algorithm") {
				return usagef("%s: --activate-after goes with --session-algorithm (to rotate keys, use svcauth keys rotate)", cmd.CommandPath())
			}
			var req apiv1.UpdateAppRequest
			if f.Changed("name") {
				req.Name = &name
			}
			if f.Changed("domain") {
				req.Domains = &domains
			}
			if f.Changed("session-duration") {
				req.SessionDuration = &session
			}
			if f.Changed("session-algorithm") {
				req.SessionAlgorithm = &alg
			}
			if f.Changed("activate-after") {
				req.ActivateAfter = &after
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var out apiv1.App
			if err := c.do(cmd.Context(), http.MethodPatch, "/v1/apps/"+url.PathEscape(args[0]), nil, req, &out); err != nil {
				return err
			}
			return fail(a.printApp(out))
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new application name (unique)")
	cmd.Flags().StringArrayVar(&domains, "domain", nil, "host[/path] the application serves (repeatable; replaces the list)")
	cmd.Flags().StringVar(&session, "session-duration", "", "lifetime of session JWTs issued from now on (at most 730h)")
	cmd.Flags().StringVar(&alg, "session-algorithm", "", "HS256 or RS256: switch by rotating to a key of that kind")
	cmd.Flags().StringVar(&after, "activate-after", "30s", "with --session-algorithm: how long the new key is published before it signs (0s to 1h)")
	return cmd
}

// policiesGet is `svcauth policies get`.
func (a *app) policiesGet() *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:     "get --app APP_ID POLICY_ID",
		Short:   "Show one policy",
		Example: `  svcauth policies get --app APP_ID POLICY_ID -o json`,
		Args:    exactArgs("POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.clientWith(cmd, "app")
			if err != nil {
				return err
			}
			var p apiv1.Policy
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/apps/"+url.PathEscape(appID)+"/policies/"+url.PathEscape(args[0]), nil, nil, &p); err != nil {
				return err
			}
			return fail(a.printPolicy(p))
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "application id")
	return cmd
}

// policiesUpdate is `svcauth policies update`: PATCH /v1/apps/{id}/policies/{policy_id}.
func (a *app) policiesUpdate() *cobra.Command {
	var (
		appID, name, decision string
		include, exclude      []string
		clearExclude          bool
		precedence            int
	)
	cmd := &cobra.Command{
		Use:   "update --app APP_ID POLICY_ID [--name NAME] [--decision D] [--include RULE...] [--exclude RULE... | --clear-exclude] [--precedence N]",
		Short: "Change a policy's name, decision, rules or place in the evaluation order",
		Long: `Change a policy. Only the flags given change; --include and --exclude (repeatable)
replace the whole list, --clear-exclude empties it. --precedence moves the policy in
the evaluation order (1 is first); see 'svcauth policies --help' for how policies
are evaluated.`,
		Example: `  svcauth policies update --app APP_ID POLICY_ID --decision deny
  svcauth policies update --app APP_ID POLICY_ID --include token:TOKEN_ID --include token:OTHER_ID
  svcauth policies update --app APP_ID POLICY_ID --clear-exclude --precedence 1 -o json`,
		Args: exactArgs("POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "app"); err != nil {
				return err
			}
			f := cmd.Flags()
			var req apiv1.UpdatePolicyRequest
			if f.Changed("name") {
				req.Name = &name
			}
			if f.Changed("decision") {
				if !domain.Decision(decision).Valid() {
					return usagef("--decision %q: want non_identity, bypass, allow or deny", decision)
				}
				req.Decision = &decision
			}
			if f.Changed("include") {
				rules, err := parseRules("include", include)
				if err != nil {
					return err
				}
				req.Include = &rules
			}
			switch {
			case f.Changed("exclude") && clearExclude:
				return usagef("give --exclude or --clear-exclude, not both")
			case f.Changed("exclude"):
				rules, err := parseRules("exclude", exclude)
				if err != nil {
					return err
				}
				req.Exclude = &rules
			case clearExclude:
				req.Exclude = &[]domain.Rule{}
			}
			if f.Changed("precedence") {
				if precedence < 1 {
					return usagef("--precedence %d: want 1 or more", precedence)
				}
				req.Precedence = &precedence
			}
			if req.Name == nil && req.Decision == nil && req.Include == nil && req.Exclude == nil && req.Precedence == nil {
				return usagef("%s: nothing to change: give --name, --decision, --include, --exclude, --clear-exclude or --precedence", cmd.CommandPath())
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var p apiv1.Policy
			if err := c.do(cmd.Context(), http.MethodPatch, "/v1/apps/"+url.PathEscape(appID)+"/policies/"+url.PathEscape(args[0]), nil, req, &p); err != nil {
				return err
			}
			return fail(a.printPolicy(p))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&appID, "app", "", "application id")
	fl.StringVar(&name, "name", "", "policy name")
	fl.StringVar(&decision, "decision", "", "non_identity (Service Auth), bypass, allow or deny")
	fl.StringArrayVar(&include, "include", nil, "rule that admits: any_valid_service_token, everyone, token:TOKEN_ID (repeatable; replaces the list)")
	fl.StringArrayVar(&exclude, "exclude", nil, "rule that excludes, same forms (repeatable; replaces the list)")
	fl.BoolVar(&clearExclude, "clear-exclude", false, "remove every exclude rule")
	fl.IntVar(&precedence, "precedence", 0, "place in the evaluation order, 1 first")
	return cmd
}

func (a *app) printPolicy(p apiv1.Policy) error {
	if a.output == "json" {
		return printJSON(a.stdout, p)
	}
	return fields(a.stdout,
		"ID", p.ID,
		"App", p.AppID,
		"Name", orDash(p.Name),
		"Decision", p.Decision,
		"Include", rulesText(p.Include),
		"Exclude", rulesText(p.Exclude),
		"Precedence", strconv.Itoa(p.Precedence),
	)
}
