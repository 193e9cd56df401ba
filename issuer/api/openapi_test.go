package api_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	return doc
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	doc := loadOpenAPI(t)
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	registered := h.srv.Routes()
	sort.Strings(documented)
	sort.Strings(registered)
	if strings.Join(documented, "\n") != strings.Join(registered, "\n") {
		t.Fatalf("OpenAPI paths and registered routes differ:\ndocumented:\n%s\n\nregistered:\n%s",
			strings.Join(documented, "\n"), strings.Join(registered, "\n"))
	}
	rec := h.do(request{method: "GET", path: "/v1/openapi.json", key: ptr("")})
	if rec.Code != 200 || rec.Body.String() != string(api.OpenAPI) {
		t.Fatalf("GET /v1/openapi.json: %d", rec.Code)
	}
}

// TestOpenAPISchemasMatchTypes checks that every documented schema has
// exactly the JSON fields of its apiv1 type.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"Error": apiv1.Error{}, "Health": apiv1.Health{}, "Rule": apiv1.Rule{},
		"CreateTokenRequest": apiv1.CreateTokenRequest{}, "UpdateTokenRequest": apiv1.UpdateTokenRequest{},
		"RotateTokenRequest": apiv1.RotateTokenRequest{}, "ImportTokenRequest": apiv1.ImportTokenRequest{}, "Token": apiv1.Token{},
		"CreateAppRequest": apiv1.CreateAppRequest{}, "UpdateAppRequest": apiv1.UpdateAppRequest{}, "App": apiv1.App{},
		"CreatePolicyRequest": apiv1.CreatePolicyRequest{}, "UpdatePolicyRequest": apiv1.UpdatePolicyRequest{}, "Policy": apiv1.Policy{},
		"ExchangeRequest": apiv1.ExchangeRequest{}, "ExchangeResponse": apiv1.ExchangeResponse{}, "AuditEvent": apiv1.AuditEvent{},
		"CreateAdminKeyRequest": apiv1.CreateAdminKeyRequest{}, "AdminKey": apiv1.AdminKey{}, "FilterConfig": apiv1.FilterConfig{},
		"RotateAppKeyRequest": apiv1.RotateAppKeyRequest{}, "AppKey": apiv1.AppKey{}, "FilterSync": apiv1.FilterSync{},
		"JWK": apiv1.JWK{}, "PublicCert": apiv1.PublicCert{}, "Certs": apiv1.Certs{}, "JWKS": apiv1.JWKS{},
	}
	for name, schema := range doc.Components.Schemas {
		v, ok := types[name]
		if !ok {
			t.Errorf("schema %s has no apiv1 type in this test", name)
			continue
		}
		var want, got []string
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				want = append(want, tag)
			}
		}
		for p := range schema.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("schema %s: properties %v, type fields %v", name, got, want)
		}
	}
}

// TestOpenAPIPathParameters checks that every path wildcard is documented as
// a required path parameter, and that ids ({id}, {…_id}), which the server
// checks before anything else, are documented as UUIDs answering 400 when
// malformed and 404 when unknown.
func TestOpenAPIPathParameters(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name     string `json:"name"`
				In       string `json:"in"`
				Required bool   `json:"required"`
				Schema   struct {
					Format string `json:"format"`
				} `json:"schema"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for path, ops := range doc.Paths {
		var wildcards []string
		for rest := path; ; {
			_, after, ok := strings.Cut(rest, "{")
			if !ok {
				break
			}
			name, tail, _ := strings.Cut(after, "}")
			wildcards = append(wildcards, name)
			rest = tail
		}
		for method, op := range ops {
			for _, w := range wildcards {
				found := false
				for _, p := range op.Parameters {
					if p.Name != w || p.In != "path" {
						continue
					}
					found = true
					if !p.Required {
						t.Errorf("%s %s: path parameter %s not required", method, path, w)
					}
					if (w == "id" || strings.HasSuffix(w, "_id")) && p.Schema.Format != "uuid" {
						t.Errorf("%s %s: path parameter %s not documented as a uuid", method, path, w)
					}
				}
				if !found {
					t.Errorf("%s %s: path parameter %s not documented", method, path, w)
				}
				if w == "id" || strings.HasSuffix(w, "_id") {
					for _, code := range []string{"400", "404"} {
						if _, ok := op.Responses[code]; !ok {
							t.Errorf("%s %s: no %s answer documented", method, path, code)
						}
					}
				}
			}
		}
	}
}
