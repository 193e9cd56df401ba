package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func (a *app) policiesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policies",
		Aliases: []string{"policy"},
		Short:   "Manage an application's access policies",
		Long: `Policies decide which service tokens get sessions for an application.

Decisions: non_identity ("Service Auth": admits matching service tokens), bypass,
allow (needs a user identity, so never admits a service token) and deny.
Service Auth and bypass policies are evaluated first, in order, then allow and
deny policies in order; the first policy that matches decides.

Rules (--include, --exclude; repeatable): any_valid_service_token, everyone,
token:TOKEN_ID. A policy matches when any include rule matches and no exclude
rule does.`,
		Example: `  svcauth policies create --app APP_ID --decision non_identity --include any_valid_service_token
  svcauth policies list --app APP_ID
  svcauth policies update --app APP_ID POLICY_ID --exclude token:TOKEN_ID`,
		RunE: groupRun,
	}
	cmd.AddCommand(a.policiesCreate(), a.policiesList(), a.policiesGet(), a.policiesUpdate(), a.policiesDelete())
	return cmd
}

// parseRule reads the CLI form of a rule.
func parseRule(flag, s string) (domain.Rule, error) {
	switch {
	case s == "any_valid_service_token":
		return domain.RuleAnyValidServiceToken(), nil
	case s == "everyone":
		return domain.RuleEveryone(), nil
	case strings.HasPrefix(s, "token:") && len(s) > len("token:"):
		return domain.RuleServiceToken(strings.TrimPrefix(s, "token:")), nil
	case strings.HasPrefix(s, "service_token:") && len(s) > len("service_token:"):
		return domain.RuleServiceToken(strings.TrimPrefix(s, "service_token:")), nil
	}
	return domain.Rule{}, usagef("--%s %q: want any_valid_service_token, everyone or token:TOKEN_ID", flag, s)
}

func parseRules(flag string, in []string) ([]domain.Rule, error) {
	out := make([]domain.Rule, 0, len(in))
	for _, s := range in {
		r, err := parseRule(flag, s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (a *app) policiesCreate() *cobra.Command {
	var (
		appID, name, decision string
		include, exclude      []string
	)
	cmd := &cobra.Command{
		Use:   "create --app APP_ID --decision DECISION --include RULE [--include RULE...] [--exclude RULE...]",
		Short: "Add a policy after the application's existing ones",
		Example: `  svcauth policies create --app APP_ID --decision non_identity --include any_valid_service_token
  svcauth policies create --app APP_ID --decision non_identity --include token:TOKEN_ID --name "CI only"
  svcauth policies create --app APP_ID --decision deny --include everyone --exclude token:TOKEN_ID`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "app", "decision", "include"); err != nil {
				return err
			}
			if !domain.Decision(decision).Valid() {
				return usagef("--decision %q: want non_identity, bypass, allow or deny", decision)
			}
			req := apiv1.CreatePolicyRequest{Name: name, Decision: decision}
			var err error
			if req.Include, err = parseRules("include", include); err != nil {
				return err
			}
			if req.Exclude, err = parseRules("exclude", exclude); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var p apiv1.Policy
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/apps/"+url.PathEscape(appID)+"/policies", nil, req, &p); err != nil {
				return err
			}
			return fail(a.printPolicy(p))
		},
	}
	f := cmd.Flags()
	f.StringVar(&appID, "app", "", "application id")
	f.StringVar(&name, "name", "", "policy name")
	f.StringVar(&decision, "decision", "", "non_identity (Service Auth), bypass, allow or deny")
	f.StringArrayVar(&include, "include", nil, "rule that admits: any_valid_service_token, everyone, token:TOKEN_ID (repeatable)")
	f.StringArrayVar(&exclude, "exclude", nil, "rule that excludes, same forms (repeatable)")
	return cmd
}

func (a *app) policiesList() *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:     "list --app APP_ID",
		Aliases: []string{"ls"},
		Short:   "List an application's policies in precedence order",
		Example: `  svcauth policies list --app APP_ID
  svcauth policies list --app APP_ID -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			policies, err := listOfApp[apiv1.Policy](cmd, a, appID, "policies")
			if err != nil {
				return err
			}
			return printList(a, policies, []string{"#", "ID", "NAME", "DECISION", "INCLUDE", "EXCLUDE"}, func(p apiv1.Policy) []string {
				return []string{strconv.Itoa(p.Precedence), p.ID, orDash(p.Name), p.Decision, rulesText(p.Include), rulesText(p.Exclude)}
			})
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "application id")
	return cmd
}

func rulesText(rules []domain.Rule) string {
	if len(rules) == 0 {
		return "-"
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (a *app) policiesDelete() *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:     "delete --app APP_ID POLICY_ID",
		Short:   "Delete a policy",
		Example: `  svcauth policies delete --app APP_ID POLICY_ID`,
		Args:    exactArgs("POLICY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.clientWith(cmd, "app")
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodDelete, "/v1/apps/"+url.PathEscape(appID)+"/policies/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
				return err
			}
			return a.printDeleted("policy", args[0])
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "application id")
	return cmd
}
