// The rules of the PostgreSQL variant of the issuer, issuer-postgres.yaml,
// as functions that return the problems they find, so that
// issuer_postgres_test.go can show each one failing on a broken copy.
package istio_test

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcauth/svcauth/envoy/istio/kubecheck"
	"github.com/svcauth/svcauth/issuer/cli"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
)

// envDB is the variable `svcauth serve` reads the DSN from when --db is not
// given; issuerShutdown how long it waits for open requests after SIGTERM.
const (
	envDB          = cli.EnvDB
	issuerShutdown = cli.ShutdownTimeout
)

// istioDefaultDrain is the sidecar's terminationDrainDuration when the pod
// does not set one.
const istioDefaultDrain = 5 * time.Second

// postgresProblems applies the rules of the PostgreSQL variant
// (issuer-postgres.yaml) to ix: several replicas, spread over nodes, rolled
// without a gap, a PodDisruptionBudget, the DSN from a Secret, no volume
// for state, readiness that follows the database, and a shutdown that lets
// in-flight exchanges finish. The rules every variant follows are in
// checkIssuer.
func postgresProblems(ix index) []string {
	o, ok := ix.get("Deployment", "svcauth", "svcauth-issuer")
	if !ok {
		return []string{"no Deployment svcauth/svcauth-issuer"}
	}
	d := o.Value.(*appsv1.Deployment)
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return []string{"want one container"}
	}
	c := &pod.Containers[0]
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	replicas := 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if replicas < 2 {
		add("replicas must be at least 2, is %d: one replica restarting would stop new exchanges", replicas)
	}
	p = append(p, rolloutProblems(d, replicas)...)
	p = append(p, spreadProblems(pod, d.Spec.Template.Labels)...)
	p = append(p, pdbProblems(ix, o.Meta.Namespace, d, replicas)...)
	p = append(p, dsnProblems(ix, o.Meta.Namespace, c)...)

	// State is in PostgreSQL: no claim, and the only writable volumes are
	// scratch space.
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			add("volume %s is a PersistentVolumeClaim: the state is in PostgreSQL", v.Name)
		}
	}
	for key := range ix["PersistentVolumeClaim"] {
		add("PersistentVolumeClaim %s in the PostgreSQL variant", key)
	}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && !m.ReadOnly && v.EmptyDir == nil {
				add("writable volume %s is not an emptyDir: nothing but scratch space may be written", m.Name)
			}
		}
	}

	// Readiness follows the database (a replica cut off from it leaves the
	// Service); liveness must not, or an outage restarts every replica.
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		add("the readiness probe must GET /readyz, which fails while PostgreSQL is unreachable")
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/readyz" {
		add("the liveness probe must not GET /readyz: a database outage would restart every replica")
	}
	return append(p, terminationProblems(d, c)...)
}

// rolloutProblems: new pods become ready before old ones go.
func rolloutProblems(d *appsv1.Deployment, replicas int) []string {
	s := d.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return []string{"strategy must be RollingUpdate: Recreate stops every replica before starting the new ones"}
	}
	if s.RollingUpdate == nil || s.RollingUpdate.MaxUnavailable == nil {
		return []string{"rollingUpdate.maxUnavailable must be 0 (the default is 25%)"}
	}
	var p []string
	if n, err := intstr.GetScaledValueFromIntOrPercent(s.RollingUpdate.MaxUnavailable, replicas, false); err != nil || n != 0 {
		p = append(p, fmt.Sprintf("rollingUpdate.maxUnavailable must be 0, is %s: a release that cannot reach the database would take replicas down", s.RollingUpdate.MaxUnavailable.String()))
	}
	if s.RollingUpdate.MaxSurge == nil {
		return p // the default, 25%, rounds up to one pod
	}
	if n, err := intstr.GetScaledValueFromIntOrPercent(s.RollingUpdate.MaxSurge, replicas, true); err != nil || n < 1 {
		p = append(p, fmt.Sprintf("rollingUpdate.maxSurge must be at least 1, is %s: with maxUnavailable 0 the rollout could not start", s.RollingUpdate.MaxSurge.String()))
	}
	return p
}

// spreadProblems: replicas prefer different nodes, and only prefer, so that
// a one-node cluster still schedules them.
func spreadProblems(pod *corev1.PodSpec, podLabels map[string]string) []string {
	const node = "kubernetes.io/hostname"
	selects := func(s *metav1.LabelSelector) bool {
		if s == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		return err == nil && !sel.Empty() && sel.Matches(labels.Set(podLabels))
	}
	var p []string
	spread := false
	for _, c := range pod.TopologySpreadConstraints {
		if c.TopologyKey != node || !selects(c.LabelSelector) {
			continue
		}
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			p = append(p, "the topology spread over nodes must be whenUnsatisfiable: ScheduleAnyway, or a one-node cluster schedules one replica")
			continue
		}
		spread = true
	}
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey == node && selects(term.LabelSelector) {
				p = append(p, "the pod anti-affinity over nodes must be preferred, not required, or a one-node cluster schedules one replica")
			}
		}
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			spread = spread || (w.PodAffinityTerm.TopologyKey == node && selects(w.PodAffinityTerm.LabelSelector))
		}
	}
	if !spread {
		p = append(p, "the replicas are not spread over nodes (topologySpreadConstraints or preferred pod anti-affinity on "+node+" selecting the pods)")
	}
	return p
}

// pdbProblems: exactly one PodDisruptionBudget covers the pods, selecting
// just the Deployment's pods, letting one go at a time while one stays.
func pdbProblems(ix index, ns string, d *appsv1.Deployment, replicas int) []string {
	var mine []*policyv1.PodDisruptionBudget
	for _, o := range ix["PodDisruptionBudget"] {
		b := o.Value.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if o.Meta.Namespace == ns && err == nil && b.Spec.Selector != nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			mine = append(mine, b)
		}
	}
	switch len(mine) {
	case 0:
		return []string{"no PodDisruptionBudget selects the issuer's pods: a node drain may evict every replica at once"}
	case 1:
	default:
		return []string{fmt.Sprintf("%d PodDisruptionBudgets select the issuer's pods: the eviction API refuses pods with more than one", len(mine))}
	}
	b := mine[0].Spec
	var p []string
	if !reflect.DeepEqual(b.Selector, d.Spec.Selector) {
		p = append(p, "the PodDisruptionBudget's selector must be the Deployment's, so that it counts exactly its pods")
	}
	var healthy int // pods the budget keeps, computed as the disruption controller does
	switch {
	case b.MinAvailable != nil && b.MaxUnavailable != nil:
		return append(p, "the PodDisruptionBudget sets both minAvailable and maxUnavailable")
	case b.MinAvailable != nil:
		healthy, _ = intstr.GetScaledValueFromIntOrPercent(b.MinAvailable, replicas, true)
	case b.MaxUnavailable != nil:
		n, _ := intstr.GetScaledValueFromIntOrPercent(b.MaxUnavailable, replicas, true)
		healthy = replicas - n
	default:
		return append(p, "the PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
	if replicas-healthy < 1 {
		p = append(p, fmt.Sprintf("the PodDisruptionBudget allows no disruption of %d replicas: node drains would block", replicas))
	}
	if healthy < 1 {
		p = append(p, "the PodDisruptionBudget keeps no replica available")
	}
	if b.UnhealthyPodEvictionPolicy == nil || *b.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
		p = append(p, "the PodDisruptionBudget needs unhealthyPodEvictionPolicy: AlwaysAllow: while PostgreSQL is down no replica is ready, and drains would block")
	}
	return p
}

// dsnProblems: the DSN holds the database password, so it comes from a
// Secret through the environment, never from the command line (--db would
// also make the issuer ignore the environment).
func dsnProblems(ix index, ns string, c *corev1.Container) []string {
	var p []string
	n := 0
	for _, e := range c.Env {
		if e.Name != envDB {
			continue
		}
		n++
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			p = append(p, envDB+" must come from a secretKeyRef, not a value in the pod spec")
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		dsn, ok := secretValue(ix, ns, ref.Name, ref.Key)
		if !ok {
			p = append(p, fmt.Sprintf("%s: no Secret %s with key %s in the manifests", envDB, ref.Name, ref.Key))
		} else if !postgres.IsDSN(dsn) {
			p = append(p, fmt.Sprintf("%s: Secret %s key %s is not a postgres:// DSN: the issuer would open it as a SQLite file", envDB, ref.Name, ref.Key))
		}
	}
	if n != 1 {
		p = append(p, fmt.Sprintf("%s must be set once, is set %d times", envDB, n))
	}
	for _, a := range c.Args {
		if a == "--db" || strings.HasPrefix(a, "--db=") {
			p = append(p, "no --db argument: the issuer reads "+envDB+" only without it")
		}
		if strings.Contains(a, "postgres://") || strings.Contains(a, "postgresql://") {
			p = append(p, "a DSN in the arguments: its password would be in the pod spec and the process list")
		}
	}
	return p
}

// terminationProblems: on deletion the issuer keeps serving while the
// endpoints change (preStop), then finishes its requests, with the sidecar
// still forwarding, all within the grace period.
func terminationProblems(d *appsv1.Deployment, c *corev1.Container) []string {
	var p []string
	var pause time.Duration
	if l := c.Lifecycle; l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds < 1 {
		p = append(p, "no preStop sleep: exchanges sent before the endpoints change would reach a closed listener")
	} else {
		pause = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	need := pause + issuerShutdown
	drain := istioDefaultDrain
	pc, err := kubecheck.ProxyConfig(d.Spec.Template.Annotations)
	switch {
	case err != nil:
		p = append(p, err.Error())
	case pc.GetTerminationDrainDuration() != nil:
		drain = pc.GetTerminationDrainDuration().AsDuration()
	}
	if drain < need {
		p = append(p, fmt.Sprintf("the sidecar's terminationDrainDuration %v must cover the preStop pause and the issuer's shutdown (%v)", drain, need))
	}
	grace := 30 * time.Second // Kubernetes' default
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= max(need, drain) {
		p = append(p, fmt.Sprintf("terminationGracePeriodSeconds %v must exceed the preStop pause and the issuer's shutdown (%v) and the sidecar's drain (%v)", grace, need, drain))
	}
	return p
}
