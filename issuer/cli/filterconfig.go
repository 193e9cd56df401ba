package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// Istio defaults of filter-config --format istio: the issuer as deployed by
// envoy/istio/issuer.yaml, and the filter image of build/Dockerfile.wasm.
const (
	IstioIssuerHost     = "svcauth-issuer.svcauth.svc.cluster.local"
	IstioIssuerPort     = 8081
	DefaultIstioWasmURL = "oci://ghcr.io/svcauth/svcauth-wasm:latest"
)

// IstioCluster is the name Istio gives the outbound cluster of a service
// port: outbound|PORT|SUBSET|HOST (no subset here).
func IstioCluster(host string, port int) string { return fmt.Sprintf("outbound|%d||%s", port, host) }

func (a *app) filterConfigCommand() *cobra.Command {
	var appID, cluster, authority, format string
	var ist istioOptions
	cmd := &cobra.Command{
		Use:   "filter-config --app APP_ID [--cluster svcauth-issuer] [--authority svcauth-issuer] [--format envoy|istio]",
		Short: "Print the proxy-wasm filter's JSON configuration for an application",
		Long: `Print the filter's plugin configuration for an application: its audience,
its session keys (secret: treat the output like a password), how to reach the
issuer through Envoy (cluster name and :authority of exchange callouts), and the
cookie and header names.

--format envoy (the default; "json" is the same) prints the JSON that goes into
Envoy's plugin configuration. The output is JSON whatever --output says.

--format istio prints a ready Istio WasmPlugin (YAML) with that configuration as
its pluginConfig: phase AUTHN, failStrategy FAIL_CLOSE, inbound traffic of the
pods selected by --selector (default app=<application name>). The issuer cluster
defaults to the outbound cluster Istio creates for the issuer's Service,
` + IstioCluster(IstioIssuerHost, IstioIssuerPort) + `
(outbound|PORT||HOST), and the :authority to ` + IstioIssuerHost + `:` + fmt.Sprint(IstioIssuerPort) + `.`,
		Example: `  svcauth filter-config --app APP_ID > plugin-config.json
  svcauth filter-config --app APP_ID --cluster outbound_svcauth --authority svcauth.internal:8081
  svcauth filter-config --app APP_ID --format istio --namespace billing --selector app=billing \
    --wasm-url oci://registry.example.com/svcauth-wasm:1.0.0 | kubectl apply -f -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "app"); err != nil {
				return err
			}
			istio := false
			switch format {
			case "envoy", "json":
			case "istio":
				istio = true
			default:
				return usagef("--format %q: want envoy (JSON, the default) or istio", format)
			}
			if !istio {
				for _, f := range []string{"name", "namespace", "selector", "wasm-url"} {
					if cmd.Flags().Changed(f) {
						return usagef("--%s applies to --format istio only", f)
					}
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if istio {
				if !cmd.Flags().Changed("cluster") {
					cluster = IstioCluster(IstioIssuerHost, IstioIssuerPort)
				}
				if !cmd.Flags().Changed("authority") {
					authority = fmt.Sprintf("%s:%d", IstioIssuerHost, IstioIssuerPort)
				}
			}
			q := url.Values{"cluster": {cluster}, "authority": {authority}}
			path := "/v1/apps/" + url.PathEscape(appID) + "/filter-config"
			if !istio {
				var cfg apiv1.FilterConfig
				if err := c.do(cmd.Context(), http.MethodGet, path, q, nil, &cfg); err != nil {
					return err
				}
				return fail(printJSON(a.stdout, cfg))
			}
			// Keep the configuration exactly as the issuer sent it (every
			// field, integers as integers) for the pluginConfig.
			var raw json.RawMessage
			if err := c.do(cmd.Context(), http.MethodGet, path, q, nil, &raw); err != nil {
				return err
			}
			var appInfo apiv1.App
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/apps/"+url.PathEscape(appID), nil, nil, &appInfo); err != nil {
				return err
			}
			out, err := istioWasmPlugin(appInfo, raw, ist)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return fail(err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&appID, "app", "", "application id")
	f.StringVar(&cluster, "cluster", "svcauth-issuer", "Envoy cluster that reaches the issuer (istio: "+IstioCluster(IstioIssuerHost, IstioIssuerPort)+")")
	f.StringVar(&authority, "authority", "svcauth-issuer", ":authority of the filter's calls to the issuer (istio: "+IstioIssuerHost+":"+fmt.Sprint(IstioIssuerPort)+")")
	f.StringVar(&format, "format", "envoy", "envoy: the plugin configuration JSON; istio: an Istio WasmPlugin (YAML)")
	f.StringVar(&ist.name, "name", "", "istio: WasmPlugin name (default svcauth-<application name>)")
	f.StringVar(&ist.namespace, "namespace", "", "istio: WasmPlugin namespace, the app's (default: none, kubectl's current namespace)")
	f.StringToStringVar(&ist.selector, "selector", nil, "istio: pod labels the plugin applies to, k=v[,k=v] (default app=<application name>)")
	f.StringVar(&ist.wasmURL, "wasm-url", DefaultIstioWasmURL, "istio: oci:// (or https://) URL of the filter image (build/Dockerfile.wasm)")
	return cmd
}

type istioOptions struct {
	name, namespace, wasmURL string
	selector                 map[string]string
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	notDNS           = regexp.MustCompile(`[^a-z0-9-]+`)
)

// istioWasmPlugin renders the WasmPlugin of an application: YAML with a
// header comment, pluginConfig being the filter configuration as served.
func istioWasmPlugin(app apiv1.App, pluginConfig json.RawMessage, o istioOptions) ([]byte, error) {
	slug := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(app.Name), "-"), "-")
	if slug == "" {
		slug = strings.ToLower(app.ID)
	}
	if len(slug) > 55 {
		slug = strings.TrimRight(slug[:55], "-")
	}
	name := o.name
	if name == "" {
		name = "svcauth-" + slug
	}
	if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		return nil, usagef("--name %q: want a lower-case DNS name", name)
	}
	if o.namespace != "" && (len(o.namespace) > 63 || !dns1123Label.MatchString(o.namespace)) {
		return nil, usagef("--namespace %q: want a lower-case DNS label", o.namespace)
	}
	selector := o.selector
	if len(selector) == 0 {
		selector = map[string]string{"app": slug}
	}
	for k, v := range selector {
		if k == "" || strings.ContainsAny(k+v, "* \t") {
			return nil, usagef("--selector %s=%s: want label=value without spaces or wildcards", k, v)
		}
	}
	if !strings.HasPrefix(o.wasmURL, "oci://") && !strings.HasPrefix(o.wasmURL, "https://") && !strings.HasPrefix(o.wasmURL, "file://") {
		return nil, usagef("--wasm-url %q: want oci://REGISTRY/IMAGE:TAG (or https:// or file://)", o.wasmURL)
	}
	dec := json.NewDecoder(bytes.NewReader(pluginConfig))
	dec.UseNumber()
	var cfg map[string]any
	if err := dec.Decode(&cfg); err != nil {
		return nil, failf("the issuer's filter configuration is not a JSON object: %v", err)
	}
	meta := map[string]any{
		"name": name,
		"labels": map[string]any{
			"app.kubernetes.io/name":       "svcauth",
			"app.kubernetes.io/managed-by": "svcauth-filter-config",
		},
		"annotations": map[string]any{"svcauth.io/app-id": app.ID, "svcauth.io/aud": app.AUD},
	}
	if o.namespace != "" {
		meta["namespace"] = o.namespace
	}
	wp := map[string]any{
		"apiVersion": "extensions.istio.io/v1alpha1",
		"kind":       "WasmPlugin",
		"metadata":   meta,
		"spec": map[string]any{
			"selector":        map[string]any{"matchLabels": selector},
			"match":           []any{map[string]any{"mode": "SERVER"}},
			"url":             o.wasmURL,
			"imagePullPolicy": "IfNotPresent",
			"phase":           "AUTHN",
			"failStrategy":    "FAIL_CLOSE",
			"type":            "HTTP",
			"pluginName":      "svcauth",
			"pluginConfig":    cfg,
		},
	}
	body, err := yaml.Marshal(wp)
	if err != nil {
		return nil, fail(err)
	}
	labels := make([]string, 0, len(selector))
	for k, v := range selector {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# svcauth for application %q (%s), generated by `svcauth filter-config --format istio`.\n", app.Name, app.ID)
	fmt.Fprintf(&b, "# Authenticates inbound requests of the pods labelled %s. pluginConfig holds the\n", strings.Join(labels, ","))
	b.WriteString("# application's session keys: keep this file secret and restrict who can read WasmPlugins.\n")
	b.Write(body)
	return b.Bytes(), nil
}
