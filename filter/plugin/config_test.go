package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/headers"
	"github.com/svcauth/svcauth/filter/session"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + b64(testKey.Secret) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Audience = testAud
	want.Keys = []session.Key{testKey}
	want.headers = headers.NewIndex(want.headerNames())
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got  %+v\nwant %+v", *c, want)
	}
	if want.Issuer != (IssuerConfig{"svcauth-issuer", "svcauth-issuer", "/v1/exchange", "/v1/filter-sync", 2000}) ||
		want.CookieName != "CF_Authorization" || want.TokenHeader != "cf-access-token" ||
		want.ClientIDHeader != "cf-access-client-id" || want.ClientSecretHeader != "cf-access-client-secret" ||
		want.JSONCredentialsHeader != "" || want.AssertionHeader != "cf-access-jwt-assertion" ||
		len(want.ExemptPathPrefixes) != 0 || want.AllowCORSPreflight || want.ClockSkewSeconds != 30 ||
		want.SyncPeriodMS != 2000 || want.SessionCacheSize != 4096 || want.CredentialCacheSize != 4096 {
		t.Fatalf("defaults differ from CONTRACTS.md: %+v", want)
	}
}

func TestParseConfigEveryField(t *testing.T) {
	doc := `{
	  "audience": "` + testAud + `",
	  "keys": [{"kid": "k1", "key": "` + b64(testKey.Secret) + `"}, {"kid": "k2", "key": "` + b64(otherKey.Secret) + `"}],
	  "issuer": {"cluster": "issuer_cluster", "authority": "issuer.internal:8081", "exchange_path": "/x/exchange", "sync_path": "/x/sync", "timeout_ms": 60000},
	  "cookie_name": "sess",
	  "token_header": "x-token",
	  "client_id_header": "x-id",
	  "client_secret_header": "x-secret",
	  "json_credentials_header": "x-creds",
	  "assertion_header": "x-assertion",
	  "exempt_path_prefixes": ["/healthz", "/.well-known/"],
	  "allow_cors_preflight": true,
	  "clock_skew_seconds": 0,
	  "sync_period_ms": 500,
	  "session_cache_size": 1000000,
	  "credential_cache_size": 16
	}`
	c, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Audience:              testAud,
		Keys:                  []session.Key{testKey, otherKey},
		Issuer:                IssuerConfig{"issuer_cluster", "issuer.internal:8081", "/x/exchange", "/x/sync", 60000},
		CookieName:            "sess",
		TokenHeader:           "x-token",
		ClientIDHeader:        "x-id",
		ClientSecretHeader:    "x-secret",
		JSONCredentialsHeader: "x-creds",
		AssertionHeader:       "x-assertion",
		ExemptPathPrefixes:    []string{"/healthz", "/.well-known/"},
		AllowCORSPreflight:    true,
		ClockSkewSeconds:      0,
		SyncPeriodMS:          500,
		SessionCacheSize:      1000000,
		CredentialCacheSize:   16,
	}
	want.headers = headers.NewIndex(want.headerNames())
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got  %+v\nwant %+v", *c, want)
	}
}

func TestParseConfigProblems(t *testing.T) {
	key := b64(testKey.Secret)
	good := `"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `"}]`
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty", ``, []string{"configuration is empty: audience and keys are required"}},
		{"blank", " \n\t", []string{"configuration is empty: audience and keys are required"}},
		{"not json", `{"audience":`, []string{"configuration is not valid JSON"}},
		{"trailing garbage", `{} x`, []string{"configuration is not valid JSON"}},
		{"array", `[]`, []string{"configuration must be a JSON object"}},
		{"string", `"x"`, []string{"configuration must be a JSON object"}},
		{"empty object", `{}`, []string{
			`audience: required (the application's 64-hex aud tag)`,
			`keys: required (at least one {"kid","key"})`,
		}},
		{"unknown field", `{` + good + `,"cookie":"x"}`, []string{`"cookie": unknown field`}},
		{"duplicate field", `{` + good + `,"audience":"` + testAud + `"}`, []string{"audience: appears more than once"}},
		{"audience upper", `{"audience":"` + strings.ToUpper(testAud) + `","keys":[{"kid":"k1","key":"` + key + `"}]}`,
			[]string{"audience: must be 64 lowercase hex characters"}},
		{"audience short", `{"audience":"abc","keys":[{"kid":"k1","key":"` + key + `"}]}`,
			[]string{"audience: must be 64 lowercase hex characters"}},
		{"audience number", `{"audience":1,"keys":[{"kid":"k1","key":"` + key + `"}]}`,
			[]string{"audience: must be 64 lowercase hex characters"}},
		{"keys object", `{"audience":"` + testAud + `","keys":{}}`, []string{`keys: must be an array of {"kid","key"} objects`}},
		{"keys empty", `{"audience":"` + testAud + `","keys":[]}`, []string{"keys: must hold at least one key"}},
		{"key not object", `{"audience":"` + testAud + `","keys":["k1"]}`, []string{"keys[0]: must be an object with kid and key"}},
		{"key parts missing", `{"audience":"` + testAud + `","keys":[{}]}`, []string{"keys[0].kid: required", "keys[0].key: required"}},
		{"key padded", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `="}]}`,
			[]string{"keys[0].key: must be base64url without padding"}},
		{"key std alphabet", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"++++++++++++++++++++++++++++++++++++++++++++"}]}`,
			[]string{"keys[0].key: must be base64url without padding"}},
		{"key short", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + b64([]byte("0123456789abcdef")) + `"}]}`,
			[]string{"keys[0].key: must decode to at least 32 bytes, got 16"}},
		{"kid bad", `{"audience":"` + testAud + `","keys":[{"kid":"a b","key":"` + key + `"}]}`,
			[]string{"keys[0].kid: must be 1 to 64 characters from A-Z a-z 0-9 . _ -"}},
		{"kid duplicate", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `"},{"kid":"k1","key":"` + key + `"}]}`,
			[]string{`keys[1].kid: duplicate key id "k1"`}},
		{"key unknown field", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `","use":"sig"}]}`,
			[]string{`keys[0]: unknown field "use"`}},
		{"alg unknown", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `","alg":"ES256"}]}`,
			[]string{"keys[0].alg: must be HS256 or RS256"}},
		{"RS256 with a secret", `{"audience":"` + testAud + `","keys":[{"kid":"r1","alg":"RS256","key":"` + key + `","n":"` + rsaN + `","e":"AQAB"}]}`,
			[]string{"keys[0].key: an RS256 key is public: give n and e, never key"}},
		{"RS256 without n", `{"audience":"` + testAud + `","keys":[{"kid":"r1","alg":"RS256","e":"AQAB"}]}`,
			[]string{"keys[0]: an RS256 key needs n and e, base64url strings"}},
		{"RS256 e 3", `{"audience":"` + testAud + `","keys":[{"kid":"r1","alg":"RS256","n":"` + rsaN + `","e":"Aw"}]}`,
			[]string{"keys[0]: RSA key e must be 65537"}},
		{"RS256 1024-bit", `{"audience":"` + testAud + `","keys":[{"kid":"r1","alg":"RS256","n":"` + rsaN[:172] + `","e":"AQAB"}]}`,
			[]string{"keys[0]: RSA key must be 2048 to 4096 bits, a whole number of bytes"}},
		{"n without alg", `{"audience":"` + testAud + `","keys":[{"kid":"k1","n":"` + rsaN + `","e":"AQAB"}]}`,
			[]string{`keys[0]: n and e belong to RS256 keys: give "alg": "RS256" and no key`}},
		{"issuer not object", `{` + good + `,"issuer":"svcauth-issuer"}`, []string{"issuer: must be an object"}},
		{"issuer fields", `{` + good + `,"issuer":{"cluster":"","authority":"a b","exchange_path":"v1/exchange","timeout_ms":0,"url":"x"}}`, []string{
			"issuer.cluster: must be a non-empty Envoy cluster name without spaces",
			"issuer.authority: must be a host or host:port",
			`issuer.exchange_path: must be a path starting with "/"`,
			"issuer.timeout_ms: must be an integer from 1 to 60000",
			`issuer: unknown field "url"`,
		}},
		{"timeout too big", `{` + good + `,"issuer":{"timeout_ms":60001}}`, []string{"issuer.timeout_ms: must be an integer from 1 to 60000"}},
		{"timeout fraction", `{` + good + `,"issuer":{"timeout_ms":1.5}}`, []string{"issuer.timeout_ms: must be an integer from 1 to 60000"}},
		{"timeout string", `{` + good + `,"issuer":{"timeout_ms":"2000"}}`, []string{"issuer.timeout_ms: must be an integer from 1 to 60000"}},
		{"authority url", `{` + good + `,"issuer":{"authority":"http://issuer"}}`, []string{"issuer.authority: must be a host or host:port"}},
		{"cookie name", `{` + good + `,"cookie_name":"a b"}`, []string{"cookie_name: must be a cookie name: letters, digits and !#$%&'*+-.^_`|~"}},
		{"cookie name empty", `{` + good + `,"cookie_name":""}`, []string{"cookie_name: must be a cookie name: letters, digits and !#$%&'*+-.^_`|~"}},
		{"header upper", `{` + good + `,"token_header":"Cf-Access-Token"}`, []string{"token_header: must be a lower-case header name (a-z 0-9 and !#$%&'*+-.^_`|~)"}},
		{"header pseudo", `{` + good + `,"assertion_header":":path"}`, []string{"assertion_header: must be a lower-case header name (a-z 0-9 and !#$%&'*+-.^_`|~)"}},
		{"header empty", `{` + good + `,"client_id_header":""}`, []string{"client_id_header: must be a lower-case header name (a-z 0-9 and !#$%&'*+-.^_`|~)"}},
		{"header not string", `{` + good + `,"client_secret_header":null}`, []string{"client_secret_header: must be a string"}},
		{"header reserved", `{` + good + `,"json_credentials_header":"cookie"}`, []string{`json_credentials_header: must not be "cookie", which the filter reads for another purpose`}},
		{"headers clash", `{` + good + `,"token_header":"cf-access-client-id"}`, []string{"client_id_header: must differ from token_header"}},
		{"json header clash", `{` + good + `,"json_credentials_header":"cf-access-client-secret"}`, []string{"json_credentials_header: must differ from client_secret_header"}},
		{"prefixes", `{` + good + `,"exempt_path_prefixes":["/","public",1,"/a?b","/a b","/ok"]}`, []string{
			`exempt_path_prefixes[0]: "/" would exempt every request`,
			`exempt_path_prefixes[1]: must be a string starting with "/"`,
			`exempt_path_prefixes[2]: must be a string starting with "/"`,
			`exempt_path_prefixes[3]: must be a plain path: visible ASCII without ? # % or \`,
			`exempt_path_prefixes[4]: must be a plain path: visible ASCII without ? # % or \`,
		}},
		{"prefixes not array", `{` + good + `,"exempt_path_prefixes":"/healthz"}`, []string{"exempt_path_prefixes: must be an array of path prefixes"}},
		{"cors", `{` + good + `,"allow_cors_preflight":"yes"}`, []string{"allow_cors_preflight: must be true or false"}},
		{"skew negative", `{` + good + `,"clock_skew_seconds":-1}`, []string{"clock_skew_seconds: must be an integer from 0 to 300"}},
		{"skew big", `{` + good + `,"clock_skew_seconds":301}`, []string{"clock_skew_seconds: must be an integer from 0 to 300"}},
		{"sync path", `{` + good + `,"issuer":{"sync_path":"v1/filter-sync"}}`, []string{`issuer.sync_path: must be a path starting with "/", without ? or #`}},
		{"sync path query", `{` + good + `,"issuer":{"sync_path":"/v1/filter-sync?aud=x"}}`, []string{`issuer.sync_path: must be a path starting with "/", without ? or #`}},
		{"sync path not string", `{` + good + `,"issuer":{"sync_path":1}}`, []string{"issuer.sync_path: must be a string"}},
		{"sync period zero", `{` + good + `,"sync_period_ms":0}`, []string{"sync_period_ms: must be an integer from 500 to 60000"}},
		{"sync period small", `{` + good + `,"sync_period_ms":499}`, []string{"sync_period_ms: must be an integer from 500 to 60000"}},
		{"sync period big", `{` + good + `,"sync_period_ms":60001}`, []string{"sync_period_ms: must be an integer from 500 to 60000"}},
		{"sync period string", `{` + good + `,"sync_period_ms":"2000"}`, []string{"sync_period_ms: must be an integer from 500 to 60000"}},
		{"session cache small", `{` + good + `,"session_cache_size":15}`, []string{"session_cache_size: must be an integer from 16 to 1000000"}},
		{"session cache big", `{` + good + `,"session_cache_size":1000001}`, []string{"session_cache_size: must be an integer from 16 to 1000000"}},
		{"credential cache zero", `{` + good + `,"credential_cache_size":0}`, []string{"credential_cache_size: must be an integer from 16 to 1000000"}},
		{"credential cache fraction", `{` + good + `,"credential_cache_size":64.5}`, []string{"credential_cache_size: must be an integer from 16 to 1000000"}},
		{"key activates_at", `{"audience":"` + testAud + `","keys":[{"kid":"k1","key":"` + key + `","activates_at":"soon"}]}`,
			[]string{"keys[0].activates_at: must be an integer from 0 to 4102444800"}},
		{"all at once", `{"audience":"x","keys":[{"kid":"k1","key":"c2hvcnQ"}],"issuer":{"timeout_ms":0},"token_header":"X","exempt_path_prefixes":["x"],"clock_skew_seconds":1000,"extra":1}`, []string{
			"audience: must be 64 lowercase hex characters",
			"keys[0].key: must decode to at least 32 bytes, got 5",
			"issuer.timeout_ms: must be an integer from 1 to 60000",
			"token_header: must be a lower-case header name (a-z 0-9 and !#$%&'*+-.^_`|~)",
			`exempt_path_prefixes[0]: must be a string starting with "/"`,
			"clock_skew_seconds: must be an integer from 0 to 300",
			`"extra": unknown field`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *ConfigError", err, err)
			}
			if !reflect.DeepEqual(ce.Problems, tc.want) {
				t.Fatalf("problems:\n got %q\nwant %q", ce.Problems, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid plugin configuration: ") {
				t.Fatalf("message %q", err.Error())
			}
		})
	}
}

// TestParseConfigAcceptsFilterConfigOutput checks the exact document shape
// `svcauth filter-config` prints (CONTRACTS.md), every field present.
func TestParseConfigAcceptsFilterConfigOutput(t *testing.T) {
	doc := map[string]any{
		"audience": testAud,
		"keys":     []map[string]string{{"kid": testAud[:12] + ".v1", "key": b64(testKey.Secret)}},
		"issuer": map[string]any{
			"cluster": "svcauth-issuer", "authority": "svcauth-issuer", "exchange_path": "/v1/exchange",
			"sync_path": "/v1/filter-sync", "timeout_ms": 2000,
		},
		"cookie_name":             "CF_Authorization",
		"token_header":            "cf-access-token",
		"client_id_header":        "cf-access-client-id",
		"client_secret_header":    "cf-access-client-secret",
		"json_credentials_header": "",
		"assertion_header":        "cf-access-jwt-assertion",
		"exempt_path_prefixes":    []string{},
		"allow_cors_preflight":    false,
		"clock_skew_seconds":      30,
		"sync_period_ms":          2000,
		"session_cache_size":      4096,
		"credential_cache_size":   4096,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys[0].ID != testAud[:12]+".v1" {
		t.Fatalf("kid %q", c.Keys[0].ID)
	}
}
