// Package envoy_test checks the Envoy artifacts of the repository with
// Envoy's own schemas, since no Envoy runs on the development machines:
//
//   - every Envoy bootstrap in the repo (and the copies `make compose-up` and
//     the e2e suite render from envoy/envoy.yaml) is decoded into the
//     bootstrap proto of github.com/envoyproxy/go-control-plane/envoy with
//     unknown fields rejected, and validated with the protos' own
//     protoc-gen-validate rules, including every typed_config (Any) inside;
//   - the svcauth filter's plugin configuration in it is parsed by the
//     filter's own parser (filter/plugin.ParseConfig), so the example cannot
//     drift from the filter;
//   - svcauth's deployment rules: V8 runtime, fail closed, the issuer cluster
//     exists, routes name existing clusters;
//   - broken configurations fail each of those checks.
//
// wasmabi_test.go checks the compiled filter's imports and exports.
package envoy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"

	// The extensions the configs use, registered for their typed_config
	// (Any) fields. A config using another extension fails with "unable to
	// resolve type": add its package here.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/svcauth/svcauth/e2e/stack"
	"github.com/svcauth/svcauth/filter/plugin"
	"github.com/svcauth/svcauth/issuer/api"
)

// bootstrapKeys are top-level fields of an Envoy bootstrap; a YAML or JSON
// file in the repo with one of them is taken for an Envoy config.
var bootstrapKeys = []string{"static_resources", "dynamic_resources", "admin", "layered_runtime", "cluster_manager", "overload_manager"}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s is not the module root: %v", root, err)
	}
	return root
}

// envoyConfigs returns every Envoy bootstrap in the repository (relative
// paths), skipping build outputs and local state.
func envoyConfigs(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "build", ".run", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var top map[string]any
		if yaml.Unmarshal(b, &top) != nil { // multi-document or not a map: not a bootstrap
			return nil
		}
		for _, k := range bootstrapKeys {
			if _, ok := top[k]; ok {
				found = append(found, rel)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestEveryEnvoyConfigIsValid(t *testing.T) {
	configs := envoyConfigs(t)
	if !slices.Contains(configs, filepath.FromSlash(stack.EnvoyTemplatePath)) {
		t.Fatalf("found Envoy configs %q, but not %s", configs, stack.EnvoyTemplatePath)
	}
	for _, rel := range configs {
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkEnvoyConfig(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRenderedConfigsAreValid checks the copies of envoy/envoy.yaml that
// `make compose-up` and `E2E_TARGET=envoy` give Envoy.
func TestRenderedConfigsAreValid(t *testing.T) {
	template, err := os.ReadFile(filepath.Join(repoRoot(t), stack.EnvoyTemplatePath))
	if err != nil {
		t.Fatal(err)
	}
	pluginConfig := []byte(`{"audience":"` + strings.Repeat("ab", 32) + `",
		"keys":[{"kid":"abababababab.v1","key":"` + strings.Repeat("A", 43) + `"}],
		"issuer":{"cluster":"svcauth-issuer","authority":"issuer:8081"}}`)
	for name, o := range map[string]stack.RenderOptions{
		"compose": {PluginConfig: pluginConfig, Listen: "0.0.0.0:8080", Admin: "0.0.0.0:9901",
			Clusters: map[string]string{"svcauth-issuer": "issuer:8081", "app": "upstream:8082"}, WasmPath: "/etc/svcauth/svcauth.wasm"},
		"e2e": {PluginConfig: pluginConfig, Listen: "127.0.0.1:41001", Admin: "127.0.0.1:41002",
			Clusters: map[string]string{"svcauth-issuer": "127.0.0.1:41003", "app": "127.0.0.1:41004"}, WasmPath: "/tmp/bin/svcauth.wasm"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := stack.RenderEnvoyConfig(template, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkEnvoyConfig(out); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var b bootstrapv3.Bootstrap
			if err := decodeBootstrap(out, &b); err != nil {
				t.Fatal(err)
			}
			if got := b.GetAdmin().GetAddress().GetSocketAddress().GetPortValue(); fmt.Sprint(got) != o.Admin[strings.LastIndex(o.Admin, ":")+1:] {
				t.Errorf("admin port %d, want %s", got, o.Admin)
			}
			w := findWasm(t, &b)
			if got := w.GetVmConfig().GetCode().GetLocal().GetFilename(); got != o.WasmPath {
				t.Errorf("wasm file %q, want %q", got, o.WasmPath)
			}
			if got := pluginJSON(t, w); !bytes.Equal(bytes.TrimSpace([]byte(got)), bytes.TrimSpace(pluginConfig)) {
				t.Errorf("plugin configuration %q, want the given one", got)
			}
		})
	}
	if _, err := stack.RenderEnvoyConfig(template, stack.RenderOptions{Clusters: map[string]string{"nope": "a:1"}}); err == nil {
		t.Error("rendering an unknown cluster succeeded")
	}
	if _, err := stack.RenderEnvoyConfig(template, stack.RenderOptions{PluginConfig: []byte("{")}); err == nil {
		t.Error("rendering a plugin configuration that is not JSON succeeded")
	}
}

// TestBrokenConfigsFail makes sure each check can fail: every case breaks
// envoy/envoy.yaml in one way and must be refused for the stated reason.
func TestBrokenConfigsFail(t *testing.T) {
	template, err := os.ReadFile(filepath.Join(repoRoot(t), stack.EnvoyTemplatePath))
	if err != nil {
		t.Fatal(err)
	}
	issuerCluster := func(c map[string]any) map[string]any {
		return find(t, at(t, c, "static_resources", "clusters"), "svcauth-issuer")
	}
	hcm := func(c map[string]any) map[string]any {
		return at(t, c, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config").(map[string]any)
	}
	wasm := func(c map[string]any) map[string]any {
		return find(t, at(t, hcm(c), "http_filters"), "svcauth")["typed_config"].(map[string]any)["config"].(map[string]any)
	}
	setPlugin := func(c map[string]any, edit func(map[string]any)) {
		conf := wasm(c)["configuration"].(map[string]any)
		var p map[string]any
		if err := json.Unmarshal([]byte(conf["value"].(string)), &p); err != nil {
			t.Fatal(err)
		}
		edit(p)
		b, _ := json.Marshal(p)
		conf["value"] = string(b)
	}
	cases := []struct {
		name, want string
		edit       func(map[string]any)
	}{
		{"unknown field", `unknown field "connect_timout"`, func(c map[string]any) {
			issuerCluster(c)["connect_timout"] = "1s"
		}},
		{"port out of range (proto validation)", "PortValue", func(c map[string]any) {
			at(t, c, "admin", "address", "socket_address").(map[string]any)["port_value"] = 70000
		}},
		{"invalid value inside a typed_config (nested Any validation)", "StatPrefix", func(c map[string]any) {
			hcm(c)["stat_prefix"] = ""
		}},
		{"unregistered extension type", "unable to resolve", func(c map[string]any) {
			hcm(c)["@type"] = "type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope"
		}},
		{"deprecated field in use", "deprecated field", func(c map[string]any) {
			wasm(c)["capability_restriction_config"] = map[string]any{}
		}},
		{"plugin configuration with an unknown field", `"issuer_url": unknown field`, func(c map[string]any) {
			setPlugin(c, func(p map[string]any) { p["issuer_url"] = "http://issuer" })
		}},
		{"plugin configuration with a bad value", "audience: must be 64 lowercase hex", func(c map[string]any) {
			setPlugin(c, func(p map[string]any) { p["audience"] = "billing" })
		}},
		{"issuer cluster missing", `issuer.cluster "svcauth-issuer" is not a cluster`, func(c map[string]any) {
			issuerCluster(c)["name"] = "issuer"
			issuerCluster2 := find(t, at(t, c, "static_resources", "clusters"), "issuer")
			issuerCluster2["load_assignment"].(map[string]any)["cluster_name"] = "issuer"
		}},
		{"issuer connections idle longer than the issuer keeps them", "want one set below the issuer's", func(c map[string]any) {
			opts := issuerCluster(c)["typed_extension_protocol_options"].(map[string]any)["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].(map[string]any)
			opts["common_http_protocol_options"] = map[string]any{"idle_timeout": "300s"}
		}},
		{"route to a missing cluster", `route to cluster "nope"`, func(c map[string]any) {
			at(t, hcm(c), "route_config", "virtual_hosts", 0, "routes", 0, "route").(map[string]any)["cluster"] = "nope"
		}},
		{"fail open", "fail open", func(c map[string]any) { wasm(c)["failure_policy"] = "FAIL_OPEN" }},
		{"not V8", "runtime", func(c map[string]any) {
			wasm(c)["vm_config"].(map[string]any)["runtime"] = "envoy.wasm.runtime.null"
		}},
		{"svcauth filter after the router", "before envoy.filters.http.router", func(c map[string]any) {
			fs := hcm(c)["http_filters"].([]any)
			slices.Reverse(fs)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js, err := yaml.YAMLToJSON(template)
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(js, &c); err != nil {
				t.Fatal(err)
			}
			tc.edit(c)
			broken, _ := json.Marshal(c)
			err = checkEnvoyConfig(broken)
			if err == nil {
				t.Fatalf("the broken config passed")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// checkEnvoyConfig runs every check on one bootstrap (YAML or JSON).
func checkEnvoyConfig(data []byte) error {
	var b bootstrapv3.Bootstrap
	if err := decodeBootstrap(data, &b); err != nil {
		return err
	}
	if errs := validateTree(b.ProtoReflect(), "bootstrap"); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return checkSvcauth(&b)
}

// decodeBootstrap is YAML → JSON → protojson, which rejects unknown fields
// and resolves each "@type" through the registered extension types.
func decodeBootstrap(data []byte, b *bootstrapv3.Bootstrap) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, b); err != nil {
		return fmt.Errorf("bootstrap proto: %w", err)
	}
	return nil
}

type validatorAll interface{ ValidateAll() error }

// validateTree runs the protoc-gen-validate rules of m (which cover every
// nested message, but stop at Any fields) and of every message packed in an
// Any below it, and refuses deprecated fields that are set.
func validateTree(m protoreflect.Message, path string) []error {
	var errs []error
	if v, ok := m.Interface().(validatorAll); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", path, m.Descriptor().FullName(), err))
		}
	}
	errs = append(errs, walkAnys(m, path)...)
	return errs
}

func walkAnys(m protoreflect.Message, path string) []error {
	var errs []error
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		a := m.Interface().(*anypb.Any)
		inner, err := a.UnmarshalNew()
		if err != nil {
			return []error{fmt.Errorf("%s: %w", path, err)}
		}
		return validateTree(inner.ProtoReflect(), path+"<"+string(inner.ProtoReflect().Descriptor().FullName())+">")
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			errs = append(errs, fmt.Errorf("%s: deprecated field in use", p))
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				errs = append(errs, walkAnys(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))...)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				errs = append(errs, walkAnys(mv.Message(), fmt.Sprintf("%s[%v]", p, k))...)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			errs = append(errs, walkAnys(v.Message(), p)...)
		}
		return true
	})
	return errs
}

// checkSvcauth applies the deployment rules of the svcauth filter to a
// decoded bootstrap.
func checkSvcauth(b *bootstrapv3.Bootstrap) error {
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	var errs []error
	found := 0
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h, err := unpack[*hcmType](f.GetTypedConfig())
				if err != nil || h == nil {
					continue
				}
				for _, r := range routeClusters(h) {
					if clusters[r] == nil {
						errs = append(errs, fmt.Errorf("listener %q: route to cluster %q, which is not defined", l.GetName(), r))
					}
				}
				names := []string{}
				for _, hf := range h.GetHttpFilters() {
					names = append(names, hf.GetName())
				}
				for i, hf := range h.GetHttpFilters() {
					w, err := unpack[*wasmFilterType](hf.GetTypedConfig())
					if err != nil || w == nil {
						continue
					}
					found++
					if router := slices.Index(names, "envoy.filters.http.router"); router >= 0 && router < i {
						errs = append(errs, fmt.Errorf("listener %q: the Wasm filter %q must come before envoy.filters.http.router", l.GetName(), hf.GetName()))
					}
					errs = append(errs, checkPlugin(w.GetConfig(), clusters)...)
				}
			}
		}
	}
	if found == 0 {
		errs = append(errs, errors.New("no Wasm HTTP filter (envoy.extensions.filters.http.wasm.v3.Wasm) in any listener"))
	}
	return errors.Join(errs...)
}

func checkPlugin(pc *wasmv3.PluginConfig, clusters map[string]*clusterv3.Cluster) []error {
	var errs []error
	name := pc.GetName()
	if pc.GetFailOpen() || pc.GetFailurePolicy() == wasmv3.FailurePolicy_FAIL_OPEN {
		errs = append(errs, fmt.Errorf("plugin %q: fail open lets requests through when the filter fails; use fail_open: false", name))
	}
	if rt := pc.GetVmConfig().GetRuntime(); rt != "envoy.wasm.runtime.v8" {
		errs = append(errs, fmt.Errorf("plugin %q: runtime %q, want envoy.wasm.runtime.v8", name, rt))
	}
	if pc.GetVmConfig().GetCode().GetLocal().GetFilename() == "" && pc.GetVmConfig().GetCode().GetRemote() == nil {
		errs = append(errs, fmt.Errorf("plugin %q: vm_config.code names no .wasm", name))
	}
	var value string
	var sv wrapperspb.StringValue
	if err := pc.GetConfiguration().UnmarshalTo(&sv); err != nil {
		return append(errs, fmt.Errorf("plugin %q: configuration must be a google.protobuf.StringValue holding the JSON of `svcauth filter-config`: %v", name, err))
	}
	value = sv.GetValue()
	cfg, err := plugin.ParseConfig([]byte(value))
	if err != nil {
		return append(errs, fmt.Errorf("plugin %q: the filter would refuse its configuration: %w", name, err))
	}
	issuer := clusters[cfg.Issuer.Cluster]
	if issuer == nil {
		return append(errs, fmt.Errorf("plugin %q: issuer.cluster %q is not a cluster of this bootstrap (exchanges would answer 503)", name, cfg.Issuer.Cluster))
	}
	if idle := upstreamIdleTimeout(issuer); idle <= 0 || idle >= api.IdleTimeout {
		errs = append(errs, fmt.Errorf("cluster %q: idle_timeout %v, want one set below the issuer's %v (else a callout may go out on a connection the issuer is closing)",
			issuer.GetName(), idle, api.IdleTimeout))
	}
	return errs
}

// upstreamIdleTimeout is a cluster's HTTP idle timeout
// (typed_extension_protocol_options' HttpProtocolOptions), 0 when unset.
func upstreamIdleTimeout(c *clusterv3.Cluster) time.Duration {
	opts, err := unpack[*upstreamhttpv3.HttpProtocolOptions](c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"])
	if err != nil || opts == nil {
		return 0
	}
	return opts.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration()
}

type (
	hcmType        = hcmv3.HttpConnectionManager
	wasmFilterType = wasmfilterv3.Wasm
)

// unpack returns the message in a, or nil when a holds another type.
func unpack[T proto.Message](a *anypb.Any) (T, error) {
	var zero T
	m, err := a.UnmarshalNew()
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		return zero, nil
	}
	return t, nil
}

func routeClusters(h *hcmType) []string {
	var out []string
	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			out = append(out, clusterOf(r)...)
		}
	}
	return out
}

func clusterOf(r *routev3.Route) []string {
	ra := r.GetRoute()
	if ra == nil {
		return nil
	}
	if c := ra.GetCluster(); c != "" {
		return []string{c}
	}
	var out []string
	for _, wc := range ra.GetWeightedClusters().GetClusters() {
		out = append(out, wc.GetName())
	}
	return out
}

func findWasm(t *testing.T, b *bootstrapv3.Bootstrap) *wasmv3.PluginConfig {
	t.Helper()
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h, _ := unpack[*hcmType](f.GetTypedConfig())
				for _, hf := range h.GetHttpFilters() {
					if w, _ := unpack[*wasmFilterType](hf.GetTypedConfig()); w != nil {
						return w.GetConfig()
					}
				}
			}
		}
	}
	t.Fatal("no Wasm filter")
	return nil
}

func pluginJSON(t *testing.T, pc *wasmv3.PluginConfig) string {
	t.Helper()
	var sv wrapperspb.StringValue
	if err := pc.GetConfiguration().UnmarshalTo(&sv); err != nil {
		t.Fatal(err)
	}
	return sv.GetValue()
}

// at follows keys and list indexes in a decoded JSON tree.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
		if v == nil {
			t.Fatalf("no %v in the config", path)
		}
	}
	return v
}

func find(t *testing.T, list any, name string) map[string]any {
	t.Helper()
	for _, it := range list.([]any) {
		if m := it.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("nothing named %q", name)
	return nil
}
