package cli

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func (a *app) filterConfigCommand() *cobra.Command {
	var appID, cluster, authority string
	cmd := &cobra.Command{
		Use:   "filter-config --app APP_ID [--cluster svcauth-issuer] [--authority svcauth-issuer]",
		Short: "Print the proxy-wasm filter's JSON configuration for an application",
		Long: `Print the filter's plugin configuration for an application: its audience, its
current session key (secret: treat the output like a password), how to reach the
issuer through Envoy (cluster name and :authority of exchange callouts), and the
cookie and header names. The output is JSON whatever --output says.`,
		Example: `  svcauth filter-config --app APP_ID > plugin-config.json
  svcauth filter-config --app APP_ID --cluster outbound_svcauth --authority svcauth.internal:8081`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "app"); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			q := url.Values{"cluster": {cluster}, "authority": {authority}}
			var cfg apiv1.FilterConfig
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/apps/"+url.PathEscape(appID)+"/filter-config", q, nil, &cfg); err != nil {
				return err
			}
			return fail(printJSON(a.stdout, cfg))
		},
	}
	f := cmd.Flags()
	f.StringVar(&appID, "app", "", "application id")
	f.StringVar(&cluster, "cluster", "svcauth-issuer", "Envoy cluster that reaches the issuer")
	f.StringVar(&authority, "authority", "svcauth-issuer", ":authority of the filter's calls to the issuer")
	return cmd
}
