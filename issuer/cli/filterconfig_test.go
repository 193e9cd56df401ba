package cli

import (
	"encoding/json"
	"strings"
	"testing"

	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"

	"github.com/svcauth/svcauth/envoy/istio/kubecheck"
	"github.com/svcauth/svcauth/filter/plugin"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

// TestFilterConfigIstio checks that `filter-config --format istio` prints a
// WasmPlugin that decodes strictly into Istio's API type and whose
// pluginConfig the filter accepts, and that the default JSON is unchanged.
func TestFilterConfigIstio(t *testing.T) {
	e := newTestEnv(t)
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "Billing API", "--domain", "billing.example.com", "-o", "json")

	// The default and --format envoy/json: the plugin JSON, identical.
	def := e.ok(nil, "filter-config", "--app", app.ID).stdout
	for _, f := range []string{"envoy", "json"} {
		if got := e.ok(nil, "filter-config", "--app", app.ID, "--format", f).stdout; got != def {
			t.Fatalf("--format %s differs from the default:\n%s\n%s", f, got, def)
		}
	}
	var envoyCfg apiv1.FilterConfig
	if err := json.Unmarshal([]byte(def), &envoyCfg); err != nil || envoyCfg.Issuer.Cluster != "svcauth-issuer" {
		t.Fatalf("default output %v: %s", err, def)
	}

	decode := func(out string) (kubecheck.Object, *extensionsv1alpha1.WasmPlugin, *plugin.Config) {
		t.Helper()
		if !strings.HasPrefix(out, "# svcauth for application") {
			t.Errorf("no header comment:\n%s", out)
		}
		objs, err := kubecheck.DecodeAll([]byte(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(objs) != 1 {
			t.Fatalf("%d documents", len(objs))
		}
		wp, ok := objs[0].Value.(*extensionsv1alpha1.WasmPlugin)
		if !ok {
			t.Fatalf("not a WasmPlugin: %s", objs[0].Ref())
		}
		js, err := kubecheck.PluginConfigJSON(wp)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := plugin.ParseConfig(js)
		if err != nil {
			t.Fatalf("the filter refuses the pluginConfig: %v\n%s", err, js)
		}
		if wp.GetPhase() != extensionsv1alpha1.PluginPhase_AUTHN || wp.GetFailStrategy() != extensionsv1alpha1.FailStrategy_FAIL_CLOSE ||
			wp.GetType() != extensionsv1alpha1.PluginType_HTTP || wp.GetPluginName() != "svcauth" ||
			len(wp.GetMatch()) != 1 || wp.GetMatch()[0].GetMode().String() != "SERVER" {
			t.Errorf("spec %v", wp)
		}
		if cfg.Audience != app.AUD || len(cfg.Keys) != len(envoyCfg.Keys) || cfg.Keys[0].ID != envoyCfg.Keys[0].KID {
			t.Errorf("pluginConfig audience/keys %s %d, want the app's", cfg.Audience, len(cfg.Keys))
		}
		return objs[0], wp, cfg
	}

	// Defaults: the in-mesh issuer of envoy/istio/issuer.yaml.
	o, wp, cfg := decode(e.ok(nil, "filter-config", "--app", app.ID, "--format", "istio").stdout)
	if o.Meta.Name != "svcauth-billing-api" || o.Meta.Namespace != "" || o.Meta.Annotations["svcauth.io/app-id"] != app.ID {
		t.Errorf("metadata %+v", o.Meta)
	}
	if got := wp.GetSelector().GetMatchLabels(); len(got) != 1 || got["app"] != "billing-api" {
		t.Errorf("selector %v", got)
	}
	if wp.GetUrl() != DefaultIstioWasmURL {
		t.Errorf("url %q", wp.GetUrl())
	}
	if cfg.Issuer.Cluster != "outbound|8081||svcauth-issuer.svcauth.svc.cluster.local" ||
		cfg.Issuer.Authority != "svcauth-issuer.svcauth.svc.cluster.local:8081" {
		t.Errorf("issuer %+v", cfg.Issuer)
	}

	// Everything set: an issuer outside the mesh (envoy/istio/external-issuer.yaml).
	o, wp, cfg = decode(e.ok(nil, "filter-config", "--app", app.ID, "--format", "istio", "--name", "auth", "--namespace", "billing",
		"--selector", "app=api,tier=web", "--wasm-url", "oci://registry.example.com/svcauth-wasm:1.2.3",
		"--cluster", "outbound|80||svcauth.example.com", "--authority", "svcauth.example.com").stdout)
	if o.Meta.Name != "auth" || o.Meta.Namespace != "billing" {
		t.Errorf("metadata %+v", o.Meta)
	}
	if got := wp.GetSelector().GetMatchLabels(); len(got) != 2 || got["app"] != "api" || got["tier"] != "web" {
		t.Errorf("selector %v", got)
	}
	if wp.GetUrl() != "oci://registry.example.com/svcauth-wasm:1.2.3" {
		t.Errorf("url %q", wp.GetUrl())
	}
	if cfg.Issuer.Cluster != "outbound|80||svcauth.example.com" || cfg.Issuer.Authority != "svcauth.example.com" {
		t.Errorf("issuer %+v", cfg.Issuer)
	}

	for _, args := range [][]string{
		{"--format", "yaml"},
		{"--namespace", "billing"}, // istio-only flag without --format istio
		{"--format", "istio", "--wasm-url", "registry.example.com/x:1"},
		{"--format", "istio", "--namespace", "Billing"},
		{"--format", "istio", "--selector", "app=*"},
	} {
		r := e.run(append([]string{"filter-config", "--app", app.ID}, args...)...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", args, r.code, ExitUsage, r.stderr)
		}
	}
}
