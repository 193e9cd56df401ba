package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "Rotate and list an application's session keys",
		Long: `Each application signs its session JWTs with an HMAC key derived from the master key
(HS256) or an RSA key the issuer generated and keeps sealed under it (RS256);
key versions are named aud[:12].v<N>, and a rotation makes a key of the application's
session algorithm. Rotation publishes a new version to the filters
at once (filter sync) and starts signing with it only after --activate-after, so every
filter knows the key before it sees a JWT signed with it. The key it replaces stays
published until the sessions it signed have expired (session duration + 5 minutes),
then it is retired.`,
		Example: `  svcauth keys list --app APP_ID
  svcauth keys rotate --app APP_ID --activate-after 30s`,
		RunE: groupRun,
	}
	cmd.AddCommand(a.keysRotate(), a.keysList())
	return cmd
}

func (a *app) keysRotate() *cobra.Command {
	var (
		appID string
		after time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate --app APP_ID [--activate-after 30s]",
		Short: "Create a new session key for an application (published now, signing after --activate-after)",
		Example: `  svcauth keys rotate --app APP_ID
  svcauth keys rotate --app APP_ID --activate-after 2m -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "app"); err != nil {
				return err
			}
			if after < 0 || after > time.Hour {
				return usagef("--activate-after %s: must be between 0s and 1h", after)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var out apiv1.AppKey
			req := apiv1.RotateAppKeyRequest{ActivateAfter: after.String()}
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/apps/"+url.PathEscape(appID)+"/keys/rotate", nil, req, &out); err != nil {
				return err
			}
			if a.output == "json" {
				return fail(printJSON(a.stdout, out))
			}
			return fail(fields(a.stdout,
				"Key", out.KID,
				"Version", strconv.Itoa(out.Version),
				"Algorithm", out.Algorithm,
				"State", out.State,
				"Signs from", fmtTime(&out.ActivatesAt),
			))
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "application id")
	cmd.Flags().DurationVar(&after, "activate-after", 30*time.Second, "how long filters learn the new key before the issuer signs with it (0s to 1h)")
	return cmd
}

func (a *app) keysList() *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:     "list --app APP_ID",
		Aliases: []string{"ls"},
		Short:   "List an application's session keys: kid, created, activates, retires, state",
		Long: `List an application's session key versions, oldest first. State is pending (published,
not yet signing), signing, previous (still published for the sessions it signed) or
retired. Key material is never shown (filter-config and filter sync carry HS256 keys and
the public halves of RS256 keys; /cdn-cgi/access/certs publishes the RS256 ones).`,
		Example: `  svcauth keys list --app APP_ID
  svcauth keys list --app APP_ID -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := listOfApp[apiv1.AppKey](cmd, a, appID, "keys")
			if err != nil {
				return err
			}
			return printList(a, keys, []string{"KID", "ALG", "CREATED", "ACTIVATES", "RETIRES", "STATE"}, func(k apiv1.AppKey) []string {
				retires := "-"
				if k.RetiresAt != nil {
					retires = fmtTime(k.RetiresAt)
				}
				return []string{k.KID, k.Algorithm, fmtTime(&k.CreatedAt), fmtTime(&k.ActivatesAt), retires, k.State}
			})
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "application id")
	return cmd
}
