// Package istio_test checks the Istio and Kubernetes manifests of envoy/istio
// with the published API types (strictly: an unknown or misspelt field
// fails), and svcauth's own rules for them: the WasmPlugin's pluginConfig is
// accepted by the filter's parser and names the outbound cluster of the
// issuer's Service, and the issuer runs non-root on a read-only root
// filesystem with its writable paths on volumes, probes and resources.
package istio_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	networkingv1 "istio.io/api/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/svcauth/svcauth/envoy/istio/kubecheck"
	"github.com/svcauth/svcauth/filter/plugin"
	"github.com/svcauth/svcauth/issuer/api"
)

// manifests decodes every YAML file of this directory.
func manifests(t *testing.T) map[string][]kubecheck.Object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in envoy/istio")
	}
	out := map[string][]kubecheck.Object{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := kubecheck.DecodeAll(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = objs
	}
	return out
}

func all(m map[string][]kubecheck.Object) []kubecheck.Object {
	var out []kubecheck.Object
	files := make([]string, 0, len(m))
	for f := range m {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		out = append(out, m[f]...)
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := manifests(t)
	kinds := map[string]int{}
	for f, objs := range m {
		for _, o := range objs {
			kinds[o.Kind]++
			t.Logf("%s: %s %s", f, o.APIVersion, o.Ref())
		}
	}
	for _, k := range []string{"WasmPlugin", "Deployment", "Service", "Secret", "PersistentVolumeClaim", "DestinationRule", "ServiceEntry"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in envoy/istio", k)
		}
	}
}

// TestStrictDecodingRejects makes sure the decoding is strict where it
// matters: a misspelt field in a Kubernetes object, in Istio metadata, in an
// Istio spec, a wrong enum value, an unknown kind.
func TestStrictDecodingRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown Deployment field": `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec: {replica: 1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}`,
		"unknown container field": `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i, readOnlyRootFileSystem: true}]}}}`,
		"duplicate key": `apiVersion: v1
kind: Service
metadata: {name: x}
spec: {ports: [{port: 1}], ports: [{port: 2}]}`,
		"unknown WasmPlugin field": `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: x}
spec: {url: "oci://r/i:t", failStrategy: FAIL_CLOSE, pluginConfigs: {}}`,
		"bad enum": `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: x}
spec: {url: "oci://r/i:t", phase: AUTHENTICATION}`,
		"unknown metadata field": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x, label: {a: b}}
spec: {host: h}`,
		"unserved version": `apiVersion: extensions.istio.io/v1
kind: WasmPlugin
metadata: {name: x}
spec: {url: "oci://r/i:t"}`,
		"unknown kind": `apiVersion: example.com/v1
kind: Widget
metadata: {name: x}`,
		"upper-case name": `apiVersion: v1
kind: ConfigMap
metadata: {name: Billing}`,
	} {
		t.Run(name, func(t *testing.T) {
			o, err := kubecheck.Decode([]byte(doc))
			if err == nil {
				t.Fatalf("decoded %s without error", o.Ref())
			}
			t.Logf("refused: %v", err)
		})
	}
}

// clusterName is Istio's name for an outbound cluster: outbound|PORT|SUBSET|HOST.
var clusterName = regexp.MustCompile(`^outbound\|([0-9]+)\|([^|]*)\|([^|]+)$`)

func TestWasmPlugin(t *testing.T) {
	objs := all(manifests(t))
	// Where the mesh has a cluster: Services (in-mesh) and ServiceEntries.
	clusters := map[string]string{}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.Service:
			for _, p := range v.Spec.Ports {
				host := fmt.Sprintf("%s.%s.svc.cluster.local", o.Meta.Name, o.Meta.Namespace)
				clusters[fmt.Sprintf("outbound|%d||%s", p.Port, host)] = o.Ref()
			}
		case *networkingv1.ServiceEntry:
			for _, h := range v.GetHosts() {
				for _, p := range v.GetPorts() {
					clusters[fmt.Sprintf("outbound|%d||%s", p.GetNumber(), h)] = o.Ref()
				}
			}
		}
	}
	n := 0
	for _, o := range objs {
		wp, ok := o.Value.(*extensionsv1alpha1.WasmPlugin)
		if !ok {
			continue
		}
		n++
		t.Run(o.Ref(), func(t *testing.T) {
			if msg := checkWasmPlugin(o, wp); msg != "" {
				t.Fatal(msg)
			}
			cfg := parsePluginConfig(t, wp)
			if _, ok := clusters[cfg.Issuer.Cluster]; !ok {
				t.Errorf("issuer.cluster %q is not the outbound cluster of a Service or ServiceEntry here (have %v)", cfg.Issuer.Cluster, keys(clusters))
			}
		})
	}
	if n == 0 {
		t.Fatal("no WasmPlugin")
	}
	// Every outbound cluster named in the docs must be well formed.
	for c := range clusters {
		if !clusterName.MatchString(c) {
			t.Errorf("cluster %q is not outbound|PORT|SUBSET|HOST", c)
		}
	}
}

// checkWasmPlugin applies what svcauth needs from a WasmPlugin; it is shared
// in spirit with the CLI test of `filter-config --format istio`.
func checkWasmPlugin(o kubecheck.Object, wp *extensionsv1alpha1.WasmPlugin) string {
	var problems []string
	if !strings.HasPrefix(wp.GetUrl(), "oci://") {
		problems = append(problems, "url must be oci://…, got "+wp.GetUrl())
	}
	if wp.GetPhase() != extensionsv1alpha1.PluginPhase_AUTHN {
		problems = append(problems, "phase must be AUTHN")
	}
	if wp.GetFailStrategy() != extensionsv1alpha1.FailStrategy_FAIL_CLOSE {
		problems = append(problems, "failStrategy must be FAIL_CLOSE")
	}
	if len(wp.GetSelector().GetMatchLabels()) == 0 && len(wp.GetTargetRefs()) == 0 {
		problems = append(problems, "a selector is required (otherwise every workload of the namespace is affected)")
	}
	if t := wp.GetType(); t != extensionsv1alpha1.PluginType_HTTP && t != extensionsv1alpha1.PluginType_UNSPECIFIED_PLUGIN_TYPE {
		problems = append(problems, "type must be HTTP")
	}
	if o.Meta.Namespace == "" {
		problems = append(problems, "metadata.namespace should be the app's namespace")
	}
	if len(problems) > 0 {
		return o.Ref() + ": " + strings.Join(problems, "; ")
	}
	return ""
}

func parsePluginConfig(t *testing.T, wp *extensionsv1alpha1.WasmPlugin) *plugin.Config {
	t.Helper()
	js, err := kubecheck.PluginConfigJSON(wp)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := plugin.ParseConfig(js)
	if err != nil {
		t.Fatalf("the filter would refuse the pluginConfig: %v\n%s", err, js)
	}
	return cfg
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestIssuerDeployment(t *testing.T) {
	objs := all(manifests(t))
	byKind := map[string]map[string]kubecheck.Object{}
	for _, o := range objs {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]kubecheck.Object{}
		}
		byKind[o.Kind][o.Meta.Namespace+"/"+o.Meta.Name] = o
	}
	dep, ok := byKind["Deployment"]["svcauth/svcauth-issuer"]
	if !ok {
		t.Fatal("no Deployment svcauth/svcauth-issuer")
	}
	d := dep.Value.(*appsv1.Deployment)
	ns := dep.Meta.Namespace
	if _, ok := byKind["Namespace"]["/"+ns]; !ok {
		t.Errorf("no Namespace %s", ns)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Error("replicas must be 1: the state is one SQLite file")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Error("strategy must be Recreate: two pods must never write the SQLite file")
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels", k, v)
		}
	}
	pod := d.Spec.Template.Spec
	if sa := pod.ServiceAccountName; sa != "" {
		if _, ok := byKind["ServiceAccount"][ns+"/"+sa]; !ok {
			t.Errorf("no ServiceAccount %s", sa)
		}
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod must set runAsNonRoot: true and a non-zero runAsUser")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the issuer alone (Istio adds its sidecar)", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("capabilities must drop ALL")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("cpu and memory requests and a memory limit are required")
	}
	probe := func(p *corev1.Probe, path, what string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
			t.Errorf("%s probe must GET %s", what, path)
			return
		}
		if p.HTTPGet.Port.String() != "http" && p.HTTPGet.Port.IntValue() != 8081 {
			t.Errorf("%s probe port %s", what, p.HTTPGet.Port.String())
		}
	}
	probe(c.LivenessProbe, "/healthz", "liveness")
	probe(c.ReadinessProbe, "/readyz", "readiness")

	// Flags: the database and every other path the issuer writes must be on
	// a mounted, writable volume (the root filesystem is read-only).
	flags := map[string]string{}
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			flags[k] = v
		}
	}
	if c.Args[0] != "serve" {
		t.Errorf("args must start with serve, got %q", c.Args)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	writable := func(path string) (string, bool) {
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly && (path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/")) {
				return m.Name, true
			}
		}
		return "", false
	}
	db := flags["db"]
	if db == "" {
		t.Fatal("no --db flag")
	}
	vol, ok := writable(filepath.Dir(db))
	if !ok {
		t.Errorf("--db %s is not on a writable volume", db)
	}
	if _, ok := writable("/tmp"); !ok {
		t.Error("/tmp must be a writable volume (SQLite temporary files)")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for name := range mounts {
		if _, ok := volumes[name]; !ok {
			t.Errorf("volume mount %s has no volume", name)
		}
	}
	if v := volumes[vol]; v.PersistentVolumeClaim == nil {
		t.Errorf("the database volume %q must be a PersistentVolumeClaim", vol)
	} else if _, ok := byKind["PersistentVolumeClaim"][ns+"/"+v.PersistentVolumeClaim.ClaimName]; !ok {
		t.Errorf("no PersistentVolumeClaim %s", v.PersistentVolumeClaim.ClaimName)
	}

	// Secrets: the master key from the environment, the admin key as a file,
	// both from a Secret of the manifests with those keys.
	secretHas := func(name, key string) bool {
		o, ok := byKind["Secret"][ns+"/"+name]
		if !ok {
			return false
		}
		s := o.Value.(*corev1.Secret)
		_, inData := s.Data[key]
		_, inString := s.StringData[key]
		return inData || inString
	}
	master := false
	for _, e := range c.Env {
		if e.Name == "SVCAUTH_MASTER_KEY" {
			ref := e.ValueFrom
			if ref == nil || ref.SecretKeyRef == nil || !secretHas(ref.SecretKeyRef.Name, ref.SecretKeyRef.Key) {
				t.Error("SVCAUTH_MASTER_KEY must come from a Secret of the manifests")
			}
			master = true
		}
	}
	if !master {
		t.Error("no SVCAUTH_MASTER_KEY: the issuer would try to create a master key file on the read-only root")
	}
	adminFile := flags["admin-key-file"]
	if adminFile == "" {
		t.Error("no --admin-key-file")
	} else {
		found := false
		for _, m := range c.VolumeMounts {
			v := volumes[m.Name]
			if v.Secret == nil || filepath.Dir(adminFile) != m.MountPath {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Path == filepath.Base(adminFile) && secretHas(v.Secret.SecretName, it.Key) {
					found = true
				}
			}
			if v.Secret.DefaultMode != nil && *v.Secret.DefaultMode&0o007 != 0 {
				t.Errorf("the admin key file is world-readable (mode %o)", *v.Secret.DefaultMode)
			}
		}
		if !found {
			t.Errorf("--admin-key-file %s is not a key of a mounted Secret", adminFile)
		}
	}

	// The Service selects the pods and names its port for Istio's protocol
	// detection; the DestinationRule is for the Service's host.
	svcObj, ok := byKind["Service"][ns+"/svcauth-issuer"]
	if !ok {
		t.Fatal("no Service svcauth/svcauth-issuer")
	}
	svc := svcObj.Value.(*corev1.Service)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not have", k, v)
		}
	}
	for _, p := range svc.Spec.Ports {
		if !strings.HasPrefix(p.Name, "http") && (p.AppProtocol == nil || *p.AppProtocol != "http") {
			t.Errorf("Service port %d: name it http… or set appProtocol: http so Istio treats it as HTTP", p.Port)
		}
		if p.TargetPort.String() != "http" && p.TargetPort.IntValue() != 8081 {
			t.Errorf("Service port %d targets %s", p.Port, p.TargetPort.String())
		}
	}
	host := "svcauth-issuer." + ns + ".svc.cluster.local"
	dr, ok := byKind["DestinationRule"][ns+"/svcauth-issuer"]
	if !ok {
		t.Fatal("no DestinationRule for the issuer")
	}
	if got := dr.Value.(*networkingv1.DestinationRule).GetHost(); got != host {
		t.Errorf("DestinationRule host %q, want %q", got, host)
	}
	// The sidecar closes its idle connections to the issuer before the
	// issuer does, or a callout may go out on a connection it is closing.
	if idle := dr.Value.(*networkingv1.DestinationRule).GetTrafficPolicy().GetConnectionPool().GetHttp().GetIdleTimeout().AsDuration(); idle <= 0 || idle >= api.IdleTimeout {
		t.Errorf("DestinationRule connectionPool.http.idleTimeout %v, want one set below the issuer's %v", idle, api.IdleTimeout)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || !strings.HasSuffix(flags["listen"], ":"+strconv.Itoa(int(c.Ports[0].ContainerPort))) {
		t.Errorf("the container port named http must be the port of --listen %s", flags["listen"])
	}
}
