package plugin

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/headers"
	"github.com/svcauth/svcauth/filter/internal/syntax"
	"github.com/svcauth/svcauth/filter/session"
)

// Config is the validated plugin configuration. Its JSON shape is fixed by
// the contract with `svcauth filter-config`, which prints every field.
type Config struct {
	Audience              string
	Keys                  []session.Key
	KeyActivatesAt        map[string]int64 // kid → activates_at, for keys that carry one; nil when none does
	Issuer                IssuerConfig
	CookieName            string
	TokenHeader           string
	ClientIDHeader        string
	ClientSecretHeader    string
	JSONCredentialsHeader string // "" disables the single JSON header
	AssertionHeader       string
	ExemptPathPrefixes    []string
	AllowCORSPreflight    bool
	ClockSkewSeconds      int64
	SyncPeriodMS          uint32 // tick period: how often the revocation state is polled and applied
	SessionCacheSize      int    // per-VM verified-JWT cache entries
	CredentialCacheSize   int    // exchanged-JWT cache entries (client id + keyed hash of the secret)

	headers headers.Index // the request headers the filter reads, built by ParseConfig
}

// IssuerConfig says how the filter reaches the issuer: an Envoy cluster, not
// a URL, plus the :authority and the :path of the exchange and sync callouts.
type IssuerConfig struct {
	Cluster      string
	Authority    string
	ExchangePath string
	SyncPath     string // GET sync_path?aud=… returns the revocation state and keys
	TimeoutMS    uint32
}

// Limits of the numeric settings.
const (
	MaxTimeoutMS        = 60000
	MaxClockSkewSeconds = 300
	MinSyncPeriodMS     = 500
	MaxSyncPeriodMS     = 60000
	MinCacheSize        = 16
	MaxCacheSize        = 1000000
)

// DefaultConfig returns the defaults of every optional field; Audience and
// Keys have none.
func DefaultConfig() Config {
	return Config{
		Issuer: IssuerConfig{
			Cluster:      "svcauth-issuer",
			Authority:    "svcauth-issuer",
			ExchangePath: "/v1/exchange",
			SyncPath:     "/v1/filter-sync",
			TimeoutMS:    2000,
		},
		CookieName:          "CF_Authorization",
		TokenHeader:         "cf-access-token",
		ClientIDHeader:      "cf-access-client-id",
		ClientSecretHeader:  "cf-access-client-secret",
		AssertionHeader:     "cf-access-jwt-assertion",
		ExemptPathPrefixes:  []string{},
		ClockSkewSeconds:    30,
		SyncPeriodMS:        2000,
		SessionCacheSize:    4096,
		CredentialCacheSize: 4096,
	}
}

// ConfigError lists every problem found in a configuration, so an operator
// can fix them all in one go.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "invalid plugin configuration: " + strings.Join(e.Problems, "; ")
}

// reservedHeaders are request headers the filter reads for its own purposes;
// a configured header name equal to one of them would make the filter strip
// or trust the wrong thing.
var reservedHeaders = []string{
	"cookie", "host", "origin", "access-control-request-method", "x-request-id",
	"content-type", "content-length", "transfer-encoding", "connection", "set-cookie",
}

// ParseConfig parses and validates a plugin configuration. It never stops at
// the first problem: the returned *ConfigError names each one.
func ParseConfig(data []byte) (*Config, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, &ConfigError{Problems: []string{"configuration is empty: audience and keys are required"}}
	}
	if !gjson.ValidBytes(data) {
		return nil, &ConfigError{Problems: []string{"configuration is not valid JSON"}}
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return nil, &ConfigError{Problems: []string{"configuration must be a JSON object"}}
	}

	c := DefaultConfig()
	p := &problems{}
	seen := map[string]bool{}
	root.ForEach(func(k, v gjson.Result) bool {
		name := k.String()
		if !p.firstTime(seen, name, name) {
			return true
		}
		switch name {
		case "audience":
			c.Audience = parseAudience(p, v)
		case "keys":
			c.Keys, c.KeyActivatesAt = parseKeys(p, v)
		case "issuer":
			parseIssuer(p, v, &c.Issuer)
		case "cookie_name":
			c.CookieName = stringField(p, name, v, c.CookieName)
			if !syntax.IsToken(c.CookieName, false) {
				p.add(name, "must be a cookie name: letters, digits and !#$%&'*+-.^_`|~")
			}
		case "token_header", "client_id_header", "client_secret_header", "assertion_header", "json_credentials_header":
			parseHeaderName(p, name, v, &c)
		case "exempt_path_prefixes":
			c.ExemptPathPrefixes = parsePrefixes(p, v)
		case "allow_cors_preflight":
			if v.Type != gjson.True && v.Type != gjson.False {
				p.add(name, "must be true or false")
			}
			c.AllowCORSPreflight = v.Type == gjson.True
		case "clock_skew_seconds":
			if n, ok := intField(p, name, v, 0, MaxClockSkewSeconds); ok {
				c.ClockSkewSeconds = n
			}
		case "sync_period_ms":
			if n, ok := intField(p, name, v, MinSyncPeriodMS, MaxSyncPeriodMS); ok {
				c.SyncPeriodMS = uint32(n)
			}
		case "session_cache_size":
			if n, ok := intField(p, name, v, MinCacheSize, MaxCacheSize); ok {
				c.SessionCacheSize = int(n)
			}
		case "credential_cache_size":
			if n, ok := intField(p, name, v, MinCacheSize, MaxCacheSize); ok {
				c.CredentialCacheSize = int(n)
			}
		default:
			p.add(strconv.Quote(name), "unknown field")
		}
		return true
	})
	if !seen["audience"] {
		p.add("audience", "required (the application's 64-hex aud tag)")
	}
	if !seen["keys"] {
		p.add("keys", "required (at least one {\"kid\",\"key\"})")
	}
	checkDistinctHeaders(p, &c)
	if len(p.list) > 0 {
		return nil, &ConfigError{Problems: p.list}
	}
	c.headers = headers.NewIndex(c.headerNames())
	return &c, nil
}

type problems struct{ list []string }

func (p *problems) add(field, msg string) { p.list = append(p.list, field+": "+msg) }

// firstTime records name in seen and reports whether it is new; a repeated
// name is a problem of field (JSON objects may repeat keys; a configuration
// must not, or two readers could see two values).
func (p *problems) firstTime(seen map[string]bool, name, field string) bool {
	if seen[name] {
		p.add(field, "appears more than once")
		return false
	}
	seen[name] = true
	return true
}

func parseAudience(p *problems, v gjson.Result) string {
	if v.Type != gjson.String || !credential.ValidAudience(v.Str) {
		p.add("audience", "must be 64 lowercase hex characters")
		return ""
	}
	return v.Str
}

func parseKeys(p *problems, v gjson.Result) ([]session.Key, map[string]int64) {
	if !v.IsArray() {
		p.add("keys", "must be an array of {\"kid\",\"key\"} objects")
		return nil, nil
	}
	var keys []session.Key
	var activation map[string]int64
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		field := "keys[" + strconv.Itoa(i) + "]"
		i++
		k, at, ok := parseKey(p, field, item)
		if !ok {
			return true
		}
		for j := range keys {
			if keys[j].ID == k.ID {
				p.add(field+".kid", "duplicate key id "+strconv.Quote(k.ID))
				return true
			}
		}
		keys = append(keys, k)
		if at > 0 {
			if activation == nil {
				activation = map[string]int64{}
			}
			activation[k.ID] = at
		}
		return true
	})
	if i == 0 {
		p.add("keys", "must hold at least one key")
	}
	return keys, activation
}

// parseKey reads {"kid","key"} (an HS256 key) or {"kid","alg":"RS256","n","e"}
// (the public half of an RS256 key, as in a JWK), and the optional
// "activates_at" (Unix seconds) that a published, not yet signing key
// carries.
func parseKey(p *problems, field string, item gjson.Result) (session.Key, int64, bool) {
	var k session.Key
	var at int64
	if !item.IsObject() {
		p.add(field, "must be an object with kid and key")
		return k, 0, false
	}
	ok := true
	var haveKid bool
	var key, n, e, alg *gjson.Result
	item.ForEach(func(name, v gjson.Result) bool {
		switch name.String() {
		case "kid":
			haveKid = true
			if v.Type != gjson.String || !syntax.ValidKID(v.Str) {
				p.add(field+".kid", "must be 1 to 64 characters from A-Z a-z 0-9 . _ -")
				ok = false
				return true
			}
			k.ID = v.Str
		case "key":
			key = &v
		case "alg":
			alg = &v
		case "n":
			n = &v
		case "e":
			e = &v
		case "activates_at":
			secs, good := intField(p, field+".activates_at", v, 0, syntax.MaxUnixSeconds)
			ok = ok && good
			at = secs
		default:
			p.add(field, "unknown field "+strconv.Quote(name.String()))
			ok = false
		}
		return true
	})
	if !haveKid {
		p.add(field+".kid", "required")
		ok = false
	}
	switch {
	case alg != nil && (alg.Type != gjson.String || alg.Str != session.HS256 && alg.Str != session.RS256):
		p.add(field+".alg", "must be HS256 or RS256")
		ok = false
	case alg != nil && alg.Str == session.RS256:
		ok = parseRSAKey(p, field, key, n, e, &k) && ok
	default:
		ok = parseHMACKey(p, field, key, n, e, &k) && ok
	}
	return k, at, ok
}

// parseHMACKey reads an HS256 key: "key", base64url of at least 32 bytes.
func parseHMACKey(p *problems, field string, key, n, e *gjson.Result, k *session.Key) bool {
	if n != nil || e != nil {
		p.add(field, "n and e belong to RS256 keys: give \"alg\": \"RS256\" and no key")
		return false
	}
	if key == nil {
		p.add(field+".key", "required")
		return false
	}
	if key.Type != gjson.String {
		p.add(field+".key", "must be a base64url string")
		return false
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(key.Str)
	switch {
	case err != nil:
		p.add(field+".key", "must be base64url without padding")
		return false
	case len(secret) < syntax.MinKeyBytes:
		p.add(field+".key", "must decode to at least 32 bytes, got "+strconv.Itoa(len(secret)))
		return false
	}
	k.Secret = secret
	return true
}

// parseRSAKey reads the public half of an RS256 key: JWK n and e. A secret
// "key" beside them is refused: an RS256 key in a filter is public only.
func parseRSAKey(p *problems, field string, key, n, e *gjson.Result, k *session.Key) bool {
	if key != nil {
		p.add(field+".key", "an RS256 key is public: give n and e, never key")
		return false
	}
	if n == nil || e == nil || n.Type != gjson.String || e.Type != gjson.String {
		p.add(field, "an RS256 key needs n and e, base64url strings")
		return false
	}
	pub, err := session.ParseRSAPublicJWK(n.Str, e.Str)
	if err != nil {
		p.add(field, strings.TrimPrefix(err.Error(), "session: "))
		return false
	}
	k.Public = pub
	return true
}

func parseIssuer(p *problems, v gjson.Result, ic *IssuerConfig) {
	if !v.IsObject() {
		p.add("issuer", "must be an object")
		return
	}
	seen := map[string]bool{}
	v.ForEach(func(k, f gjson.Result) bool {
		name := k.String()
		field := "issuer." + name
		if !p.firstTime(seen, name, field) {
			return true
		}
		switch name {
		case "cluster":
			ic.Cluster = stringField(p, field, f, ic.Cluster)
			if ic.Cluster == "" || !syntax.VisibleASCII(ic.Cluster) {
				p.add(field, "must be a non-empty Envoy cluster name without spaces")
			}
		case "authority":
			ic.Authority = stringField(p, field, f, ic.Authority)
			if ic.Authority == "" || !syntax.VisibleASCII(ic.Authority) || strings.ContainsAny(ic.Authority, "/?#@") {
				p.add(field, "must be a host or host:port")
			}
		case "exchange_path":
			ic.ExchangePath = stringField(p, field, f, ic.ExchangePath)
			if !strings.HasPrefix(ic.ExchangePath, "/") || !syntax.VisibleASCII(ic.ExchangePath) {
				p.add(field, "must be a path starting with \"/\"")
			}
		case "sync_path":
			ic.SyncPath = stringField(p, field, f, ic.SyncPath)
			if !strings.HasPrefix(ic.SyncPath, "/") || !syntax.VisibleASCII(ic.SyncPath) || strings.ContainsAny(ic.SyncPath, "?#") {
				p.add(field, "must be a path starting with \"/\", without ? or #")
			}
		case "timeout_ms":
			if n, ok := intField(p, field, f, 1, MaxTimeoutMS); ok {
				ic.TimeoutMS = uint32(n)
			}
		default:
			p.add("issuer", "unknown field "+strconv.Quote(name))
		}
		return true
	})
}

func parseHeaderName(p *problems, name string, v gjson.Result, c *Config) {
	var dst *string
	switch name {
	case "token_header":
		dst = &c.TokenHeader
	case "client_id_header":
		dst = &c.ClientIDHeader
	case "client_secret_header":
		dst = &c.ClientSecretHeader
	case "assertion_header":
		dst = &c.AssertionHeader
	case "json_credentials_header":
		dst = &c.JSONCredentialsHeader
	}
	*dst = stringField(p, name, v, *dst)
	if name == "json_credentials_header" && *dst == "" {
		return // disabled
	}
	if !syntax.IsToken(*dst, true) {
		p.add(name, "must be a lower-case header name (a-z 0-9 and !#$%&'*+-.^_`|~)")
		return
	}
	for _, r := range reservedHeaders {
		if *dst == r {
			p.add(name, "must not be "+strconv.Quote(r)+", which the filter reads for another purpose")
		}
	}
}

func checkDistinctHeaders(p *problems, c *Config) {
	names := [...]struct{ field, value string }{
		{"token_header", c.TokenHeader},
		{"client_id_header", c.ClientIDHeader},
		{"client_secret_header", c.ClientSecretHeader},
		{"json_credentials_header", c.JSONCredentialsHeader},
		{"assertion_header", c.AssertionHeader},
	}
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[i].value != "" && names[i].value == names[j].value {
				p.add(names[j].field, "must differ from "+names[i].field)
			}
		}
	}
}

func parsePrefixes(p *problems, v gjson.Result) []string {
	if !v.IsArray() {
		p.add("exempt_path_prefixes", "must be an array of path prefixes")
		return []string{}
	}
	out := []string{}
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		field := "exempt_path_prefixes[" + strconv.Itoa(i) + "]"
		i++
		switch {
		case item.Type != gjson.String || !strings.HasPrefix(item.Str, "/"):
			p.add(field, "must be a string starting with \"/\"")
		case item.Str == "/":
			p.add(field, "\"/\" would exempt every request")
		case !syntax.VisibleASCII(item.Str) || strings.ContainsAny(item.Str, "?#%\\"):
			p.add(field, "must be a plain path: visible ASCII without ? # % or \\")
		default:
			out = append(out, item.Str)
		}
		return true
	})
	return out
}

// stringField returns v's string, or reports a type error and keeps def.
func stringField(p *problems, field string, v gjson.Result, def string) string {
	if v.Type != gjson.String {
		p.add(field, "must be a string")
		return def
	}
	return v.Str
}

// intField returns v as an integer in [lo, hi], or reports why it is not one.
func intField(p *problems, field string, v gjson.Result, lo, hi int64) (int64, bool) {
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if v.Type != gjson.Number || err != nil || n < lo || n > hi {
		p.add(field, "must be an integer from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
		return 0, false
	}
	return n, true
}

// headerNames are the headers the filter reads under this configuration:
// the path and method only for exempt prefixes, the CORS headers only when
// preflights may pass.
func (c *Config) headerNames() headers.Names {
	return headers.Names{
		Token: c.TokenHeader, ClientID: c.ClientIDHeader, ClientSecret: c.ClientSecretHeader,
		Assertion: c.AssertionHeader, JSONCredentials: c.JSONCredentialsHeader, CookieName: c.CookieName,
		ReadPath: len(c.ExemptPathPrefixes) > 0, ReadCORS: c.AllowCORSPreflight,
	}
}
