package api_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/domain"
)

// writeRoute is one admin API route that takes a body, with a body it
// accepts built around a name (or, for routes without one, around another
// field), so that each bad-input case differs from an accepted request in
// exactly one way.
type writeRoute struct {
	method, path string
	// body returns an accepted body whose name (or field) is the JSON
	// string literal lit, quotes included.
	body func(lit string) string
	// field is the member body sets: the one a duplicate repeats.
	field string
	// named routes check lit as a display name.
	named bool
}

// TestStrictInputOnEveryWriteRoute sends every strict-input case to every
// write route: invalid UTF-8, control and format characters in names,
// duplicate members, a body not declared as JSON, each kind of non-object
// body, and oversize bodies of two sizes. Each must get its precise error
// and leave every stored row as it was. TestMain runs it a second time
// through api.HTTPServer, the server `svcauth serve` runs.
func TestStrictInputOnEveryWriteRoute(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	app := h.createApp("billing", "")
	pol := h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(tok.ID)}, nil)
	hexSecret := strings.Repeat("0123456789abcdef", 4)
	clientID := credential.NewClientID()
	tp := "/v1/service-tokens/" + tok.ID
	ap := "/v1/apps/" + app.ID

	routes := []writeRoute{
		{"POST", "/v1/service-tokens", func(l string) string { return `{"name":` + l + `}` }, "name", true},
		{"PATCH", tp, func(l string) string { return `{"name":` + l + `}` }, "name", true},
		{"POST", "/v1/service-tokens/import", func(l string) string {
			return `{"name":` + l + `,"client_id":"` + clientID + `","client_secret":"` + hexSecret + `"}`
		}, "name", true},
		{"POST", tp + "/refresh", func(l string) string { return `{}` }, "", false},
		{"POST", tp + "/rotate", func(l string) string { return `{"grace":"1h"}` }, "grace", false},
		{"POST", "/v1/apps", func(l string) string { return `{"name":` + l + `,"domains":["new.example.com"]}` }, "name", true},
		{"PATCH", ap, func(l string) string { return `{"name":` + l + `}` }, "name", true},
		{"POST", ap + "/revoke-sessions", func(l string) string { return `{}` }, "", false},
		{"POST", ap + "/keys/rotate", func(l string) string { return `{"activate_after":"1m"}` }, "activate_after", false},
		{"POST", ap + "/policies", func(l string) string {
			return `{"name":` + l + `,"decision":"bypass","include":[{"everyone":{}}]}`
		}, "name", true},
		{"PATCH", ap + "/policies/" + pol.ID, func(l string) string { return `{"name":` + l + `}` }, "name", true},
		{"POST", "/v1/admin-keys", func(l string) string { return `{"name":` + l + `}` }, "name", true},
	}

	type badCase struct {
		name   string
		body   string
		header map[string]string
		huge   bool // sent with request.declared
		status int
		code   string
		msg    string // the exact message, or with a leading "~" a substring
	}
	notObject := "request body must be a JSON object"
	tooLarge := "request body larger than 65536 bytes"
	for i, rt := range routes {
		accepted := rt.body(`"fresh name"`)
		var cases []badCase
		// Invalid UTF-8 anywhere in the body, at a known offset.
		bad := strings.Replace(accepted, "{", "{\"\xff\":1,", 1)
		cases = append(cases, badCase{"invalid UTF-8", bad, nil, false, 400, "bad_request", "request body is not valid UTF-8 at byte 2"})
		if rt.named {
			cases = append(cases,
				badCase{"invalid UTF-8 in the name", rt.body("\"ab\xc3\""), nil, false, 400, "bad_request", "~not valid UTF-8 at byte"},
				badCase{"bidi override", rt.body(`"adm\u202eni"`), nil, false, 400, "bad_request", "~character 4 is U+202E, a format character"},
				badCase{"bidi override, raw", rt.body("\"adm\u202eni\""), nil, false, 400, "bad_request", "~character 4 is U+202E"},
				badCase{"zero-width space", rt.body(`"admin\u200b"`), nil, false, 400, "bad_request", "~character 6 is U+200B, a format character"},
				badCase{"bidi isolate", rt.body(`"a\u2066b"`), nil, false, 400, "bad_request", "~character 2 is U+2066"},
				badCase{"bell", rt.body(`"a\u0007b"`), nil, false, 400, "bad_request", "~character 2 is U+0007, a control character"},
				badCase{"line separator", rt.body(`"a\u2028b"`), nil, false, 400, "bad_request", "~character 2 is U+2028"},
				badCase{"lone surrogate", rt.body(`"a\ud800b"`), nil, false, 400, "bad_request", "~character 2 is U+FFFD"},
			)
		}
		dupField := rt.field
		if dupField == "" {
			dupField = "unused"
		}
		dup := `{"` + dupField + `":"a",  "` + dupField + `":"b"}`
		cases = append(cases,
			badCase{"duplicate member", dup, nil, false, 400, "bad_request", `duplicate member "` + dupField + `" at byte ` + strconv.Itoa(strings.LastIndex(dup, `"`+dupField+`"`))},
			badCase{"duplicate member in a nested object", `{"x":{"k":1,"k":2}}`, nil, false, 400, "bad_request", `duplicate member "k" at byte 12`},
			badCase{"text/plain", accepted, map[string]string{"Content-Type": "text/plain"}, false, 415, "unsupported_media_type", "~Content-Type: application/json"},
			badCase{"form", accepted, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, false, 415, "unsupported_media_type", "~Content-Type: application/json"},
			badCase{"another charset", accepted, map[string]string{"Content-Type": "application/json; charset=latin1"}, false, 415, "unsupported_media_type", "~charset=utf-8"},
			badCase{"no Content-Type", accepted, map[string]string{"Content-Type": ""}, false, 415, "unsupported_media_type", "~Content-Type: application/json"},
			badCase{"null", `null`, nil, false, 400, "bad_request", notObject},
			badCase{"array", `[{}]`, nil, false, 400, "bad_request", notObject},
			badCase{"string", `"x"`, nil, false, 400, "bad_request", notObject},
			badCase{"number", ` 5`, nil, false, 400, "bad_request", notObject},
			badCase{"boolean", `true`, nil, false, 400, "bad_request", notObject},
			badCase{"70 KB", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, nil, false, 413, "payload_too_large", tooLarge},
			badCase{"10 MB", `{"name":"` + strings.Repeat("x", 10<<20) + `"}`, nil, true, 413, "payload_too_large", tooLarge},
		)
		for _, tc := range cases {
			t.Run(rt.method+" "+rt.path+": "+tc.name, func(t *testing.T) {
				before := h.state()
				rec := h.do(request{method: rt.method, path: rt.path, body: tc.body, header: tc.header, declared: tc.huge})
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
				}
				e := decodeError(t, rec)
				match := e.Message == tc.msg
				if sub, ok := strings.CutPrefix(tc.msg, "~"); ok {
					match = strings.Contains(e.Message, sub)
				}
				if e.Error != tc.code || !match {
					t.Fatalf("error %+v, want code %s and message %q", e, tc.code, tc.msg)
				}
				if after := h.state(); !reflect.DeepEqual(before, after) {
					t.Fatalf("the refused request changed the stored state:\nbefore %+v\nafter  %+v", before, after)
				}
			})
		}
		// The body every case above spoils is accepted as it is: each case
		// was refused for its one difference. (A name of its own: routes
		// share the namespace of tokens, apps and policies.)
		t.Run(rt.method+" "+rt.path+": accepted", func(t *testing.T) {
			rec := h.do(request{method: rt.method, path: rt.path, body: rt.body(`"accepted ` + strconv.Itoa(i) + `"`)})
			if rec.Code/100 != 2 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		})
	}
}
