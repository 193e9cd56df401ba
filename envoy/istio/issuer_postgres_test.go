package istio_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcauth/svcauth/envoy/istio/kubecheck"
	issuerkeys "github.com/svcauth/svcauth/issuer/keys"
)

func postgresVariant(t *testing.T) index {
	t.Helper()
	return variant(t, manifests(t), "issuer-postgres.yaml")
}

// TestIssuerPostgres: issuer-postgres.yaml follows the PostgreSQL rules
// (postgres_rules_test.go); TestIssuerDeployment applies the common ones.
func TestIssuerPostgres(t *testing.T) {
	for _, p := range postgresProblems(postgresVariant(t)) {
		t.Error(p)
	}
}

// TestIssuerPostgresRulesCanFail breaks a fresh copy of the decoded
// variant one way at a time: each rule must name the break.
func TestIssuerPostgresRulesCanFail(t *testing.T) {
	dep := func(ix index) *appsv1.Deployment {
		o, _ := ix.get("Deployment", "svcauth", "svcauth-issuer")
		return o.Value.(*appsv1.Deployment)
	}
	ctr := func(ix index) *corev1.Container { return &dep(ix).Spec.Template.Spec.Containers[0] }
	pdb := func(ix index) *policyv1.PodDisruptionBudget {
		o, _ := ix.get("PodDisruptionBudget", "svcauth", "svcauth-issuer")
		return o.Value.(*policyv1.PodDisruptionBudget)
	}
	env := func(ix index, name string) *corev1.EnvVar {
		c := ctr(ix)
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 {
			t.Fatalf("no %s", name)
		}
		return &c.Env[i]
	}
	i32 := func(n int32) *int32 { return &n }
	ios := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	for _, tc := range []struct {
		name, want string
		breakIt    func(ix index)
	}{
		{"one replica", "replicas must be at least 2", func(ix index) { dep(ix).Spec.Replicas = i32(1) }},
		{"Recreate", "strategy must be RollingUpdate", func(ix index) {
			dep(ix).Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}},
		{"maxUnavailable defaulted", "maxUnavailable must be 0", func(ix index) { dep(ix).Spec.Strategy.RollingUpdate.MaxUnavailable = nil }},
		{"maxUnavailable 1", "maxUnavailable must be 0", func(ix index) {
			dep(ix).Spec.Strategy.RollingUpdate.MaxUnavailable = ios(intstr.FromInt32(1))
		}},
		{"maxUnavailable 50%", "maxUnavailable must be 0", func(ix index) {
			dep(ix).Spec.Strategy.RollingUpdate.MaxUnavailable = ios(intstr.FromString("50%"))
		}},
		{"maxSurge 0", "maxSurge must be at least 1", func(ix index) {
			dep(ix).Spec.Strategy.RollingUpdate.MaxSurge = ios(intstr.FromInt32(0))
		}},
		{"no spread", "not spread over nodes", func(ix index) { dep(ix).Spec.Template.Spec.TopologySpreadConstraints = nil }},
		{"spread required", "ScheduleAnyway", func(ix index) {
			dep(ix).Spec.Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable = corev1.DoNotSchedule
		}},
		{"spread over zones only", "not spread over nodes", func(ix index) {
			dep(ix).Spec.Template.Spec.TopologySpreadConstraints[0].TopologyKey = "topology.kubernetes.io/zone"
		}},
		{"spread selects other pods", "not spread over nodes", func(ix index) {
			dep(ix).Spec.Template.Spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels = map[string]string{"app": "other"}
		}},
		{"required anti-affinity", "must be preferred", func(ix index) {
			dep(ix).Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "svcauth-issuer"}}}}}}
		}},
		{"no PDB", "no PodDisruptionBudget", func(ix index) { delete(ix["PodDisruptionBudget"], "svcauth/svcauth-issuer") }},
		{"PDB selects other pods", "no PodDisruptionBudget", func(ix index) { pdb(ix).Spec.Selector.MatchLabels = map[string]string{"app": "other"} }},
		{"PDB in another namespace", "no PodDisruptionBudget", func(ix index) {
			o := ix["PodDisruptionBudget"]["svcauth/svcauth-issuer"]
			o.Meta.Namespace = "default"
			ix["PodDisruptionBudget"]["svcauth/svcauth-issuer"] = o
		}},
		{"PDB selects the whole namespace", "selector must be the Deployment's", func(ix index) { pdb(ix).Spec.Selector = &metav1.LabelSelector{} }},
		{"two PDBs", "2 PodDisruptionBudgets", func(ix index) {
			o := ix["PodDisruptionBudget"]["svcauth/svcauth-issuer"]
			o.Meta.Name = "second"
			ix["PodDisruptionBudget"]["svcauth/second"] = o
		}},
		{"PDB maxUnavailable 0", "allows no disruption", func(ix index) { pdb(ix).Spec.MaxUnavailable = ios(intstr.FromInt32(0)) }},
		{"PDB minAvailable 2", "allows no disruption", func(ix index) {
			pdb(ix).Spec.MaxUnavailable, pdb(ix).Spec.MinAvailable = nil, ios(intstr.FromInt32(2))
		}},
		{"PDB minAvailable 100%", "allows no disruption", func(ix index) {
			pdb(ix).Spec.MaxUnavailable, pdb(ix).Spec.MinAvailable = nil, ios(intstr.FromString("100%"))
		}},
		{"PDB minAvailable 0", "keeps no replica", func(ix index) {
			pdb(ix).Spec.MaxUnavailable, pdb(ix).Spec.MinAvailable = nil, ios(intstr.FromInt32(0))
		}},
		{"PDB maxUnavailable 100%", "keeps no replica", func(ix index) { pdb(ix).Spec.MaxUnavailable = ios(intstr.FromString("100%")) }},
		{"PDB without a bound", "neither minAvailable nor maxUnavailable", func(ix index) { pdb(ix).Spec.MaxUnavailable = nil }},
		{"PDB with both bounds", "both minAvailable and maxUnavailable", func(ix index) { pdb(ix).Spec.MinAvailable = ios(intstr.FromInt32(1)) }},
		{"PDB eviction policy defaulted", "AlwaysAllow", func(ix index) { pdb(ix).Spec.UnhealthyPodEvictionPolicy = nil }},
		{"DSN as a plain value", envDB + " must come from a secretKeyRef", func(ix index) {
			*env(ix, envDB) = corev1.EnvVar{Name: envDB, Value: "postgres://svcauth:pw@db:5432/svcauth"}
		}},
		{"no " + envDB, envDB + " must be set once", func(ix index) {
			c := ctr(ix)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == envDB })
		}},
		{envDB + " twice", envDB + " must be set once", func(ix index) { ctr(ix).Env = append(ctr(ix).Env, *env(ix, envDB)) }},
		{"DSN key not in the Secret", "no Secret svcauth-db with key url", func(ix index) { env(ix, envDB).ValueFrom.SecretKeyRef.Key = "url" }},
		{"DSN Secret holds a path", "not a postgres:// DSN", func(ix index) {
			o, _ := ix.get("Secret", "svcauth", "svcauth-db")
			o.Value.(*corev1.Secret).StringData["dsn"] = "/var/lib/svcauth/svcauth.db"
		}},
		{"--db=postgres://", "no --db argument", func(ix index) {
			ctr(ix).Args = append(ctr(ix).Args, "--db=postgres://svcauth:pw@db/svcauth")
		}},
		{"--db PATH", "no --db argument", func(ix index) { ctr(ix).Args = append(ctr(ix).Args, "--db", "/tmp/svcauth.db") }},
		{"DSN in an argument", "a DSN in the arguments", func(ix index) {
			ctr(ix).Args = append(ctr(ix).Args, "postgresql://svcauth:pw@db/svcauth")
		}},
		{"PVC volume", "is a PersistentVolumeClaim", func(ix index) {
			s := &dep(ix).Spec.Template.Spec
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "svcauth-data"}}})
		}},
		{"PVC object", "PersistentVolumeClaim svcauth/svcauth-data", func(ix index) {
			ix["PersistentVolumeClaim"] = map[string]kubecheck.Object{"svcauth/svcauth-data": {Kind: "PersistentVolumeClaim"}}
		}},
		{"writable hostPath", "not an emptyDir", func(ix index) {
			s := &dep(ix).Spec.Template.Spec
			i := slices.IndexFunc(s.Volumes, func(v corev1.Volume) bool { return v.Name == "tmp" })
			s.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/tmp"}}
		}},
		{"readiness on /healthz", "readiness probe must GET /readyz", func(ix index) { ctr(ix).ReadinessProbe.HTTPGet.Path = "/healthz" }},
		{"no readiness probe", "readiness probe must GET /readyz", func(ix index) { ctr(ix).ReadinessProbe = nil }},
		{"liveness on /readyz", "liveness probe must not GET /readyz", func(ix index) { ctr(ix).LivenessProbe.HTTPGet.Path = "/readyz" }},
		{"no preStop", "no preStop sleep", func(ix index) { ctr(ix).Lifecycle = nil }},
		{"short grace period", "terminationGracePeriodSeconds", func(ix index) {
			dep(ix).Spec.Template.Spec.TerminationGracePeriodSeconds = ptrTo[int64](15)
		}},
		{"sidecar drain defaulted", "terminationDrainDuration 5s must cover", func(ix index) {
			delete(dep(ix).Spec.Template.Annotations, kubecheck.ProxyConfigAnnotation)
		}},
		{"sidecar drain misspelt", "unknown field", func(ix index) {
			dep(ix).Spec.Template.Annotations[kubecheck.ProxyConfigAnnotation] = "terminationDrainDurations: 15s\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := postgresVariant(t)
			tc.breakIt(ix)
			problems := postgresProblems(ix)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("no problem mentions %q; got %q", tc.want, problems)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestIssuerPostgresLikeSQLite: apart from where the state lives and how
// many replicas run, issuer-postgres.yaml is issuer.yaml: same namespace,
// Service, image, probes, resources, security contexts and keys, so that
// switching variants changes nothing else.
func TestIssuerPostgresLikeSQLite(t *testing.T) {
	m := manifests(t)
	sq, pg := variant(t, m, "issuer.yaml"), variant(t, m, "issuer-postgres.yaml")
	a, b := issuerOf(t, sq), issuerOf(t, pg)
	withoutDB := func(args []string) []string {
		return slices.DeleteFunc(slices.Clone(args), func(s string) bool { return strings.HasPrefix(s, "--db=") })
	}
	envVar := func(c corev1.Container, name string) *corev1.EnvVar {
		for _, e := range c.Env {
			if e.Name == name {
				return &e
			}
		}
		return nil
	}
	volume := func(d *appsv1.Deployment, name string) *corev1.Volume {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == name {
				return &v
			}
		}
		return nil
	}
	object := func(ix index, kind, ns, name string) any {
		o, ok := ix.get(kind, ns, name)
		if !ok {
			t.Errorf("no %s %s/%s", kind, ns, name)
		}
		return o.Value
	}
	ap, bp := a.d.Spec.Template.Spec, b.d.Spec.Template.Spec
	for _, c := range []struct {
		what string
		x, y any
	}{
		{"Namespace", object(sq, "Namespace", "", "svcauth"), object(pg, "Namespace", "", "svcauth")},
		{"ServiceAccount", object(sq, "ServiceAccount", "svcauth", "svcauth-issuer"), object(pg, "ServiceAccount", "svcauth", "svcauth-issuer")},
		{"Service", object(sq, "Service", "svcauth", "svcauth-issuer"), object(pg, "Service", "svcauth", "svcauth-issuer")},
		{"Deployment selector", a.d.Spec.Selector, b.d.Spec.Selector},
		{"pod labels", a.d.Spec.Template.Labels, b.d.Spec.Template.Labels},
		{"serviceAccountName", ap.ServiceAccountName, bp.ServiceAccountName},
		{"pod automountServiceAccountToken", ap.AutomountServiceAccountToken, bp.AutomountServiceAccountToken},
		{"pod securityContext", ap.SecurityContext, bp.SecurityContext},
		{"image", a.c.Image, b.c.Image},
		{"imagePullPolicy", a.c.ImagePullPolicy, b.c.ImagePullPolicy},
		{"args but --db", withoutDB(a.c.Args), withoutDB(b.c.Args)},
		{"ports", a.c.Ports, b.c.Ports},
		{"livenessProbe", a.c.LivenessProbe, b.c.LivenessProbe},
		{"readinessProbe", a.c.ReadinessProbe, b.c.ReadinessProbe},
		{"startupProbe", a.c.StartupProbe, b.c.StartupProbe},
		{"resources", a.c.Resources, b.c.Resources},
		{"container securityContext", a.c.SecurityContext, b.c.SecurityContext},
		{issuerkeys.EnvMasterKey, envVar(a.c, issuerkeys.EnvMasterKey), envVar(b.c, issuerkeys.EnvMasterKey)},
		{"admin-key volume", volume(a.d, "admin-key"), volume(b.d, "admin-key")},
		{"tmp volume", volume(a.d, "tmp"), volume(b.d, "tmp")},
	} {
		if !equality.Semantic.DeepEqual(c.x, c.y) {
			t.Errorf("%s differs between issuer.yaml and issuer-postgres.yaml:\n%+v\n%+v", c.what, c.x, c.y)
		}
	}
}

// TestProxyConfigStrict: the sidecar's ProxyConfig annotation is decoded
// strictly, so the drain rule cannot pass on a misspelt field.
func TestProxyConfigStrict(t *testing.T) {
	for _, bad := range []string{"terminationDrainDurations: 15s", "terminationDrainDuration: 15", "terminationDrainDuration: 1s\nterminationDrainDuration: 2s"} {
		if _, err := kubecheck.ProxyConfig(map[string]string{kubecheck.ProxyConfigAnnotation: bad}); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
	pc, err := kubecheck.ProxyConfig(map[string]string{kubecheck.ProxyConfigAnnotation: "terminationDrainDuration: 15s"})
	if err != nil || pc.GetTerminationDrainDuration().AsDuration().Seconds() != 15 {
		t.Errorf("terminationDrainDuration: 15s decoded as %v, %v", pc, err)
	}
	if pc, err := kubecheck.ProxyConfig(nil); pc != nil || err != nil {
		t.Errorf("no annotation: %v, %v", pc, err)
	}
}
