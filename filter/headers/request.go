package headers

import "github.com/svcauth/svcauth/filter/internal/rawmem"

// MaxSessionCandidates bounds how many session tokens (cookies of the
// configured name plus token headers) one request may make the filter verify.
const MaxSessionCandidates = 4

// Request is what one pass over the request headers finds. The credentials
// are the first occurrence (path and method the last: a request has one of
// each); the counts say whether a header came more than once. Its strings
// point into the headers read: they must not outlive the callback.
type Request struct {
	Path, Method       string
	HasOrigin, HasACRM bool
	candidates         [MaxSessionCandidates]string
	nCandidates        int
	clientID, secret   string
	jsonCredentials    string
	nClientID          int
	// How often the headers that are stripped before the request goes on
	// came (a credential header that came twice is also refused).
	NAssertion, NSecret, NJSON int
}

// Sessions are the session tokens the request carries, in header order.
func (r *Request) Sessions() []string { return r.candidates[:r.nCandidates] }

// Scan reads every header of a list of pairs (the SDK's form, natively).
func (r *Request) Scan(hs [][2]string, x *Index) {
	for _, h := range hs {
		if kind, ok := x.Kind(h[0]); ok {
			r.take(kind, h[1], x)
		}
	}
}

// take records header value v of a kind the filter reads.
func (r *Request) take(kind Kind, v string, x *Index) {
	switch kind {
	case Path:
		r.Path = v
	case Method:
		r.Method = v
	case Origin:
		r.HasOrigin = true
	case ACRM:
		r.HasACRM = true
	case Cookie:
		r.addCookies(v, x.cookieName)
	case Token:
		r.addCandidate(trimOWS(v))
	case ClientID:
		if r.nClientID++; r.nClientID == 1 {
			r.clientID = trimOWS(v)
		}
	case Secret:
		if r.NSecret++; r.NSecret == 1 {
			r.secret = trimOWS(v)
		}
	case Assertion:
		r.NAssertion++
	case JSON:
		if r.NJSON++; r.NJSON == 1 {
			r.jsonCredentials = trimOWS(v)
		}
	}
}

func (r *Request) addCandidate(tok string) {
	if tok != "" && r.nCandidates < MaxSessionCandidates {
		r.candidates[r.nCandidates] = tok
		r.nCandidates++
	}
}

// addCookies finds every cookie called name in one Cookie header value
// ("a=1; name=tok; b=2"). A request may carry several Cookie headers, and a
// browser sends several cookies of one name when their paths differ. OWS
// around a pair's name is tolerated: a cookie name is a token (no '=', ';'
// or whitespace: the configuration checks it), so "OWS name OWS =" is the
// same test as comparing the trimmed text before the pair's first '='.
// Inside wasm each search is a call: one per pair, and the one across the
// session JWT looks at 32 bytes a step (rawmem.IndexByte).
func (r *Request) addCookies(header, name string) {
	for header != "" {
		header = trimLeadingOWS(header)
		pair := header
		if i := rawmem.IndexByte(header, ';'); i >= 0 {
			pair, header = header[:i], header[i+1:]
		} else {
			header = ""
		}
		if len(pair) <= len(name) || !rawmem.SameText(pair[:len(name)], name) {
			continue
		}
		rest := trimLeadingOWS(pair[len(name):])
		if rest == "" || rest[0] != '=' {
			continue
		}
		v := trimOWS(rest[1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		r.addCandidate(v)
	}
}

// trimOWS trims the optional whitespace (spaces and tabs) around a value.
func trimOWS(s string) string {
	s = trimLeadingOWS(s)
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func trimLeadingOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}
