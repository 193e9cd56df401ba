// Package kubecheck decodes Kubernetes and Istio manifests strictly into
// their published Go types — k8s.io/api for Kubernetes kinds, istio.io/api
// (via protojson) for Istio specs — rejecting unknown and duplicate fields,
// so that a typo fails a test here rather than `kubectl apply` (or, worse,
// is silently dropped by a lenient decoder). It is used by the tests of the
// manifests in envoy/istio and of `svcauth filter-config --format istio`.
//
// It checks structure and field names, not everything the API server would:
// CRD CEL rules and Istio's own semantic validation (istioctl validate) are
// not run; the tests add the svcauth-specific rules on top.
package kubecheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingv1 "istio.io/api/networking/v1"
	securityv1 "istio.io/api/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	APIVersion string
	Kind       string
	Meta       metav1.ObjectMeta
	// Value is the decoded object: a pointer to the k8s.io/api type (e.g.
	// *appsv1.Deployment) for Kubernetes kinds, and to the istio.io/api spec
	// message (e.g. *extensionsv1alpha1.WasmPlugin) for Istio kinds.
	Value any
}

// Ref names the object as "Kind namespace/name".
func (o Object) Ref() string {
	ns := o.Meta.Namespace
	if ns != "" {
		ns += "/"
	}
	return o.Kind + " " + ns + o.Meta.Name
}

type gvk struct{ apiVersion, kind string }

// kubeKinds are the Kubernetes kinds the manifests may use.
var kubeKinds = map[gvk]func() any{
	{"v1", "Namespace"}:                  func() any { return &corev1.Namespace{} },
	{"v1", "ServiceAccount"}:             func() any { return &corev1.ServiceAccount{} },
	{"v1", "Secret"}:                     func() any { return &corev1.Secret{} },
	{"v1", "ConfigMap"}:                  func() any { return &corev1.ConfigMap{} },
	{"v1", "Service"}:                    func() any { return &corev1.Service{} },
	{"v1", "PersistentVolumeClaim"}:      func() any { return &corev1.PersistentVolumeClaim{} },
	{"apps/v1", "Deployment"}:            func() any { return &appsv1.Deployment{} },
	{"apps/v1", "StatefulSet"}:           func() any { return &appsv1.StatefulSet{} },
	{"policy/v1", "PodDisruptionBudget"}: func() any { return &policyv1.PodDisruptionBudget{} },
}

// istioKinds are the Istio kinds, by group (every served version decodes
// into the same spec message).
var istioKinds = map[gvk]func() proto.Message{
	{"extensions.istio.io", "WasmPlugin"}:          func() proto.Message { return &extensionsv1alpha1.WasmPlugin{} },
	{"networking.istio.io", "ServiceEntry"}:        func() proto.Message { return &networkingv1.ServiceEntry{} },
	{"networking.istio.io", "DestinationRule"}:     func() proto.Message { return &networkingv1.DestinationRule{} },
	{"security.istio.io", "AuthorizationPolicy"}:   func() proto.Message { return &securityv1.AuthorizationPolicy{} },
	{"security.istio.io", "PeerAuthentication"}:    func() proto.Message { return &securityv1.PeerAuthentication{} },
	{"networking.istio.io", "Sidecar"}:             func() proto.Message { return &networkingv1.Sidecar{} },
	{"networking.istio.io", "VirtualService"}:      func() proto.Message { return &networkingv1.VirtualService{} },
	{"security.istio.io", "RequestAuthentication"}: func() proto.Message { return &securityv1.RequestAuthentication{} },
}

// istioVersions are the served API versions of each Istio group.
var istioVersions = map[string][]string{
	"extensions.istio.io": {"v1alpha1"},
	"networking.istio.io": {"v1", "v1beta1", "v1alpha3"},
	"security.istio.io":   {"v1", "v1beta1"},
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// SplitDocuments splits a YAML stream at "---" lines and drops documents
// that hold only comments or whitespace.
func SplitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(data), -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// DecodeAll decodes every document of a YAML stream.
func DecodeAll(data []byte) ([]Object, error) {
	var out []Object
	for i, doc := range SplitDocuments(data) {
		o, err := Decode(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Decode decodes one YAML (or JSON) document strictly.
func Decode(doc []byte) (Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("YAML: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &tm); err != nil {
		return Object{}, fmt.Errorf("not an object: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return Object{}, errors.New("apiVersion and kind are required")
	}
	o := Object{APIVersion: tm.APIVersion, Kind: tm.Kind}

	if newObj, ok := kubeKinds[gvk{tm.APIVersion, tm.Kind}]; ok {
		obj := newObj()
		if err := strictJSON(js, obj); err != nil {
			return o, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
		}
		o.Value = obj
		var m struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = json.Unmarshal(js, &m)
		o.Meta = m.Metadata
		return o, checkMeta(o)
	}

	group, version, _ := strings.Cut(tm.APIVersion, "/")
	newSpec, ok := istioKinds[gvk{group, tm.Kind}]
	if !ok {
		return o, fmt.Errorf("%s %s: not a kind this check knows; add it to kubecheck", tm.APIVersion, tm.Kind)
	}
	served := false
	for _, v := range istioVersions[group] {
		served = served || v == version
	}
	if !served {
		return o, fmt.Errorf("%s %s: Istio serves %s as %s/%s", tm.APIVersion, tm.Kind, tm.Kind, group, strings.Join(istioVersions[group], ", "+group+"/"))
	}
	var env struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       json.RawMessage   `json:"spec"`
	}
	if err := strictJSON(js, &env); err != nil {
		return o, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	o.Meta = env.Metadata
	if len(env.Spec) == 0 {
		return o, fmt.Errorf("%s: spec is required", o.Ref())
	}
	spec := newSpec()
	// protojson rejects unknown fields and wrong types, and accepts the
	// lowerCamelCase names Istio's CRDs use.
	if err := (protojson.UnmarshalOptions{}).Unmarshal(env.Spec, spec); err != nil {
		return o, fmt.Errorf("%s spec: %w", o.Ref(), err)
	}
	o.Value = spec
	return o, checkMeta(o)
}

func strictJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	return nil
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func checkMeta(o Object) error {
	if o.Meta.Name == "" {
		return fmt.Errorf("%s %s: metadata.name is required", o.APIVersion, o.Kind)
	}
	if len(o.Meta.Name) > 253 || !dns1123.MatchString(o.Meta.Name) {
		return fmt.Errorf("%s: metadata.name must be a lower-case DNS-1123 name", o.Ref())
	}
	if o.Meta.Namespace != "" && (len(o.Meta.Namespace) > 63 || strings.Contains(o.Meta.Namespace, ".") || !dns1123.MatchString(o.Meta.Namespace)) {
		return fmt.Errorf("%s: metadata.namespace must be a DNS-1123 label", o.Ref())
	}
	if o.Meta.ResourceVersion != "" || o.Meta.UID != "" || !o.Meta.CreationTimestamp.IsZero() {
		return fmt.Errorf("%s: metadata holds server-set fields (resourceVersion, uid, creationTimestamp)", o.Ref())
	}
	return nil
}

// PluginConfigJSON returns the plugin configuration Istio hands the filter
// for a WasmPlugin: spec.pluginConfig (a google.protobuf.Struct) as JSON.
func PluginConfigJSON(wp *extensionsv1alpha1.WasmPlugin) ([]byte, error) {
	if wp.GetPluginConfig() == nil {
		return nil, errors.New("spec.pluginConfig is empty")
	}
	return protojson.Marshal(wp.GetPluginConfig())
}

// ProxyConfigAnnotation is the pod annotation by which a workload overrides
// its sidecar's ProxyConfig (a YAML document).
const ProxyConfigAnnotation = "proxy.istio.io/config"

// ProxyConfig decodes a pod's ProxyConfigAnnotation strictly into Istio's
// ProxyConfig: nil without the annotation. The API server takes any string
// there: a misspelt field would otherwise surface only at sidecar injection.
func ProxyConfig(annotations map[string]string) (*meshv1alpha1.ProxyConfig, error) {
	v, ok := annotations[ProxyConfigAnnotation]
	if !ok {
		return nil, nil
	}
	js, err := yaml.YAMLToJSONStrict([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("%s: YAML: %w", ProxyConfigAnnotation, err)
	}
	pc := &meshv1alpha1.ProxyConfig{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, pc); err != nil {
		return nil, fmt.Errorf("%s: %w", ProxyConfigAnnotation, err)
	}
	return pc, nil
}
