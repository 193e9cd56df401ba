// Package istio_test checks the Istio and Kubernetes manifests of envoy/istio
// with the published API types (strictly: an unknown or misspelt field
// fails), and svcauth's own rules for them: the WasmPlugin's pluginConfig is
// accepted by the filter's parser and names the outbound cluster of the
// issuer's Service, and the issuer runs non-root on a read-only root
// filesystem with its writable paths on volumes, probes and resources, in
// each of its variants (issuer.yaml on SQLite, issuer-postgres.yaml on
// PostgreSQL: its rules in postgres_rules_test.go, their tests in
// issuer_postgres_test.go).
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
	issuerkeys "github.com/svcauth/svcauth/issuer/keys"
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
	for _, k := range []string{"WasmPlugin", "Deployment", "Service", "Secret", "PersistentVolumeClaim", "PodDisruptionBudget", "DestinationRule", "ServiceEntry"} {
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
	clusters := clustersOf(objs)
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

// clustersOf names the outbound clusters objs give the mesh (Services
// in-mesh, ServiceEntries), each with the object that gives it.
func clustersOf(objs []kubecheck.Object) map[string]string {
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
	return clusters
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

// issuerFiles are the alternative manifests of the issuer: apply one of
// them. Both define the Deployment and the Service svcauth/svcauth-issuer,
// so each is checked with the files they share (the Secrets, the
// DestinationRule) and without the other.
var issuerFiles = []string{"issuer.yaml", "issuer-postgres.yaml"}

// index is a set of manifests by kind, then "namespace/name".
type index map[string]map[string]kubecheck.Object

func (ix index) objects() []kubecheck.Object {
	var out []kubecheck.Object
	for _, byName := range ix {
		for _, o := range byName {
			out = append(out, o)
		}
	}
	return out
}

func (ix index) get(kind, ns, name string) (kubecheck.Object, bool) {
	o, ok := ix[kind][ns+"/"+name]
	return o, ok
}

// variant indexes what is applied with the issuer manifest file: that file
// and every file that is not another issuer variant. An object defined
// twice is an error: the second apply would overwrite the first.
func variant(t *testing.T, m map[string][]kubecheck.Object, file string) index {
	t.Helper()
	if _, ok := m[file]; !ok {
		t.Fatalf("no %s", file)
	}
	files := make([]string, 0, len(m))
	for f := range m {
		if f == file || !slices.Contains(issuerFiles, f) {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	ix, from := index{}, map[string]string{}
	for _, f := range files {
		for _, o := range m[f] {
			if ix[o.Kind] == nil {
				ix[o.Kind] = map[string]kubecheck.Object{}
			}
			key := o.Meta.Namespace + "/" + o.Meta.Name
			if prev, dup := from[o.Kind+" "+key]; dup {
				t.Errorf("%s is in %s and %s", o.Ref(), prev, f)
			}
			from[o.Kind+" "+key] = f
			ix[o.Kind][key] = o
		}
	}
	return ix
}

// TestIssuerVariants: every file that defines the issuer's Deployment is
// one of issuerFiles (so it gets checked, and alone), and each defines it.
func TestIssuerVariants(t *testing.T) {
	m := manifests(t)
	defines := map[string]bool{}
	for f, objs := range m {
		for _, o := range objs {
			if o.Kind == "Deployment" && o.Meta.Namespace == "svcauth" && o.Meta.Name == "svcauth-issuer" {
				defines[f] = true
			}
		}
	}
	for f := range defines {
		if !slices.Contains(issuerFiles, f) {
			t.Errorf("%s defines the issuer's Deployment but is not in issuerFiles", f)
		}
	}
	for _, f := range issuerFiles {
		if !defines[f] {
			t.Errorf("%s does not define Deployment svcauth/svcauth-issuer", f)
		}
	}
}

// issuer is the issuer's Deployment in a variant, its container and its
// --flag=value arguments.
type issuer struct {
	obj   kubecheck.Object
	d     *appsv1.Deployment
	c     corev1.Container
	flags map[string]string
}

func issuerOf(t *testing.T, ix index) issuer {
	t.Helper()
	o, ok := ix.get("Deployment", "svcauth", "svcauth-issuer")
	if !ok {
		t.Fatal("no Deployment svcauth/svcauth-issuer")
	}
	d := o.Value.(*appsv1.Deployment)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want the issuer alone (Istio adds its sidecar)", n)
	}
	c := d.Spec.Template.Spec.Containers[0]
	flags := map[string]string{}
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			flags[k] = v
		}
	}
	return issuer{obj: o, d: d, c: c, flags: flags}
}

// writable names the writable volume mount of c that holds path.
func writable(c corev1.Container, path string) (string, bool) {
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly && (path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/")) {
			return m.Name, true
		}
	}
	return "", false
}

// secretValue is the value of key in Secret ns/name of ix.
func secretValue(ix index, ns, name, key string) (string, bool) {
	o, ok := ix.get("Secret", ns, name)
	if !ok {
		return "", false
	}
	s := o.Value.(*corev1.Secret)
	if v, ok := s.StringData[key]; ok {
		return v, true
	}
	v, ok := s.Data[key]
	return string(v), ok
}

// TestIssuerDeployment applies the rules every issuer variant follows.
func TestIssuerDeployment(t *testing.T) {
	m := manifests(t)
	for _, f := range issuerFiles {
		t.Run(f, func(t *testing.T) { checkIssuer(t, variant(t, m, f)) })
	}
}

// TestIssuerSQLite: issuer.yaml runs one writer of one SQLite file on a
// PersistentVolumeClaim.
func TestIssuerSQLite(t *testing.T) {
	ix := variant(t, manifests(t), "issuer.yaml")
	is := issuerOf(t, ix)
	d := is.d
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Error("replicas must be 1: the state is one SQLite file")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Error("strategy must be Recreate: two pods must never write the SQLite file")
	}
	db := is.flags["db"]
	if db == "" {
		t.Fatal("no --db flag")
	}
	vol, ok := writable(is.c, filepath.Dir(db))
	if !ok {
		t.Errorf("--db %s is not on a writable volume", db)
	}
	ns := is.obj.Meta.Namespace
	var v corev1.Volume
	for _, pv := range d.Spec.Template.Spec.Volumes {
		if pv.Name == vol {
			v = pv
		}
	}
	if v.PersistentVolumeClaim == nil {
		t.Errorf("the database volume %q must be a PersistentVolumeClaim", vol)
	} else if _, ok := ix.get("PersistentVolumeClaim", ns, v.PersistentVolumeClaim.ClaimName); !ok {
		t.Errorf("no PersistentVolumeClaim %s", v.PersistentVolumeClaim.ClaimName)
	}
}

// checkIssuer: the issuer runs non-root on a read-only root filesystem with
// its writable paths on volumes, probes and resources, its keys from
// Secrets of the manifests, behind the Service the WasmPlugins name.
func checkIssuer(t *testing.T, ix index) {
	is := issuerOf(t, ix)
	d, c, flags := is.d, is.c, is.flags
	ns := is.obj.Meta.Namespace
	if _, ok := ix.get("Namespace", "", ns); !ok {
		t.Errorf("no Namespace %s", ns)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels", k, v)
		}
	}
	pod := d.Spec.Template.Spec
	if sa := pod.ServiceAccountName; sa != "" {
		if _, ok := ix.get("ServiceAccount", ns, sa); !ok {
			t.Errorf("no ServiceAccount %s", sa)
		}
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod must set runAsNonRoot: true and a non-zero runAsUser")
	}
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
	probe(c.StartupProbe, "/healthz", "startup")

	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("args must start with serve, got %q", c.Args)
	}
	if _, ok := writable(c, "/tmp"); !ok {
		t.Error("/tmp must be a writable volume (the root filesystem is read-only)")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("volume mount %s has no volume", m.Name)
		}
	}

	// Secrets: the master key from the environment, the admin key as a file,
	// both from a Secret of the manifests with those keys.
	secretHas := func(name, key string) bool {
		_, ok := secretValue(ix, ns, name, key)
		return ok
	}
	master := false
	for _, e := range c.Env {
		if e.Name == issuerkeys.EnvMasterKey {
			ref := e.ValueFrom
			if ref == nil || ref.SecretKeyRef == nil || !secretHas(ref.SecretKeyRef.Name, ref.SecretKeyRef.Key) {
				t.Errorf("%s must come from a Secret of the manifests", issuerkeys.EnvMasterKey)
			}
			master = true
		}
	}
	if !master {
		t.Errorf("no %s: the issuer would try to create a master key file on the read-only root", issuerkeys.EnvMasterKey)
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
	svcObj, ok := ix.get("Service", ns, "svcauth-issuer")
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
	// With this variant alone, the WasmPlugins' issuer clusters exist.
	clusters := clustersOf(ix.objects())
	for _, o := range ix.objects() {
		if wp, ok := o.Value.(*extensionsv1alpha1.WasmPlugin); ok {
			if c := parsePluginConfig(t, wp).Issuer.Cluster; clusters[c] == "" {
				t.Errorf("%s: issuer.cluster %q is not a cluster of this variant (have %v)", o.Ref(), c, keys(clusters))
			}
		}
	}
	host := "svcauth-issuer." + ns + ".svc.cluster.local"
	dr, ok := ix.get("DestinationRule", ns, "svcauth-issuer")
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
	// A replica refusing connections is ejected at the first refusal, and
	// all of them may be (else Envoy keeps sending to a dead one).
	od := dr.Value.(*networkingv1.DestinationRule).GetTrafficPolicy().GetOutlierDetection()
	if !od.GetSplitExternalLocalOriginErrors() || od.GetConsecutiveLocalOriginFailures().GetValue() != 1 ||
		od.GetMaxEjectionPercent() != 100 || od.GetBaseEjectionTime().AsDuration() <= 0 {
		t.Errorf("DestinationRule outlierDetection %v: want local-origin failures split out, ejection after 1, up to 100%%", od)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || !strings.HasSuffix(flags["listen"], ":"+strconv.Itoa(int(c.Ports[0].ContainerPort))) {
		t.Errorf("the container port named http must be the port of --listen %s", flags["listen"])
	}
}
