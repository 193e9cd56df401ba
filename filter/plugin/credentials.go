package plugin

import (
	"strings"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/tidwall/gjson"
)

// maxSessionCandidates bounds how many session tokens (cookies of the
// configured name plus token headers) one request may make the filter verify.
const maxSessionCandidates = 4

// requestHeaders is what one pass over the request headers finds. Values are
// the first occurrence; counts say whether a header came more than once.
type requestHeaders struct {
	path, method       string
	hasOrigin, hasACRM bool
	requestID          string
	candidates         [maxSessionCandidates]string
	nCandidates        int
	clientID, secret   string
	jsonCredentials    string
	nClientID, nSecret int
	nJSON, nAssertion  int
}

// scan reads every header once (natively, from the SDK's list of pairs).
func (r *requestHeaders) scan(hs [][2]string, c *Config) {
	for _, h := range hs {
		r.header(h[0], h[1], c)
	}
}

// header takes one request header. Header names arrive lower-cased from the
// host and configured names are validated lower-case, so plain == compares
// them.
func (r *requestHeaders) header(k, v string, c *Config) {
	switch k {
	case ":path":
		r.path = v
	case ":method":
		r.method = v
	case "origin":
		r.hasOrigin = true
	case "access-control-request-method":
		r.hasACRM = true
	case "x-request-id":
		r.requestID = v
	case "cookie":
		r.addCookies(v, c.CookieName)
	case c.TokenHeader:
		r.addCandidate(trimOWS(v))
	case c.ClientIDHeader:
		if r.nClientID++; r.nClientID == 1 {
			r.clientID = trimOWS(v)
		}
	case c.ClientSecretHeader:
		if r.nSecret++; r.nSecret == 1 {
			r.secret = trimOWS(v)
		}
	case c.AssertionHeader:
		r.nAssertion++
	default:
		if c.JSONCredentialsHeader != "" && k == c.JSONCredentialsHeader {
			if r.nJSON++; r.nJSON == 1 {
				r.jsonCredentials = trimOWS(v)
			}
		}
	}
}

func (r *requestHeaders) addCandidate(tok string) {
	if tok != "" && r.nCandidates < maxSessionCandidates {
		r.candidates[r.nCandidates] = tok
		r.nCandidates++
	}
}

// addCookies finds every cookie called name in one Cookie header value
// ("a=1; name=tok; b=2"). A request may carry several Cookie headers, and a
// browser sends several cookies of one name when their paths differ.
func (r *requestHeaders) addCookies(header, name string) {
	for header != "" {
		var pair string
		if i := strings.IndexByte(header, ';'); i >= 0 {
			pair, header = header[:i], header[i+1:]
		} else {
			pair, header = header, ""
		}
		eq := strings.IndexByte(pair, '=')
		if eq < 0 || trimOWS(pair[:eq]) != name {
			continue
		}
		v := trimOWS(pair[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		r.addCandidate(v)
	}
}

// credentials returns the client id and secret the request carries, or the
// reason code of the 401 that refuses them. Shapes are checked here so that a
// mistyped or random secret never reaches the issuer.
func (r *requestHeaders) credentials() (id, secret, reason string) {
	pair := r.nClientID > 0 || r.nSecret > 0
	switch {
	case pair && r.nJSON > 0:
		return "", "", reasonConflicting
	case r.nClientID > 1 || r.nSecret > 1 || r.nJSON > 1:
		return "", "", reasonDuplicate
	case r.nJSON == 1:
		id, secret, reason = parseJSONCredentials(r.jsonCredentials)
		if reason != "" {
			return "", "", reason
		}
	case r.nClientID == 1 && r.nSecret == 1:
		id, secret = r.clientID, r.secret
	case pair:
		return "", "", reasonPartial
	default:
		return "", "", reasonMissing
	}
	if !credential.ValidClientID(id) || !credential.ValidSecret(secret) {
		return "", "", reasonMalformed
	}
	return id, secret, ""
}

// parseJSONCredentials reads {"cf-access-client-id":"…","cf-access-client-secret":"…"}.
func parseJSONCredentials(v string) (id, secret, reason string) {
	if !gjson.Valid(v) {
		return "", "", reasonMalformed
	}
	doc := gjson.Parse(v)
	if !doc.IsObject() {
		return "", "", reasonMalformed
	}
	idv, sv := doc.Get("cf-access-client-id"), doc.Get("cf-access-client-secret")
	switch {
	case !idv.Exists() && !sv.Exists():
		return "", "", reasonMissing
	case !idv.Exists() || !sv.Exists():
		return "", "", reasonPartial
	case idv.Type != gjson.String || sv.Type != gjson.String:
		return "", "", reasonMalformed
	}
	return idv.Str, sv.Str, ""
}

// trimOWS trims the optional whitespace (spaces and tabs) around a value.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
