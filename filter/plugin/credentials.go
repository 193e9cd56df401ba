package plugin

import (
	"math/bits"
	"unsafe"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/tidwall/gjson"
)

// maxSessionCandidates bounds how many session tokens (cookies of the
// configured name plus token headers) one request may make the filter verify.
const maxSessionCandidates = 4

// requestHeaders is what one pass over the request headers finds. The
// credentials are the first occurrence (path and method the last: a request
// has one of each); counts say whether a header came more than once.
type requestHeaders struct {
	path, method       string
	hasOrigin, hasACRM bool
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

// header takes one request header. Most headers of a request are none of
// the filter's business, and inside wasm comparing each name with a dozen
// others costs microseconds per request: the config's headerIndex rules
// them out with two table lookups.
func (r *requestHeaders) header(k, v string, c *Config) {
	if kind, ok := c.headers.kind(k); ok {
		r.take(kind, v, c)
	}
}

// take records header value v of a kind the filter reads.
func (r *requestHeaders) take(kind headerKind, v string, c *Config) {
	switch kind {
	case hdrPath:
		r.path = v
	case hdrMethod:
		r.method = v
	case hdrOrigin:
		r.hasOrigin = true
	case hdrACRM:
		r.hasACRM = true
	case hdrCookie:
		r.addCookies(v, c.CookieName)
	case hdrToken:
		r.addCandidate(trimOWS(v))
	case hdrClientID:
		if r.nClientID++; r.nClientID == 1 {
			r.clientID = trimOWS(v)
		}
	case hdrSecret:
		if r.nSecret++; r.nSecret == 1 {
			r.secret = trimOWS(v)
		}
	case hdrAssertion:
		r.nAssertion++
	case hdrJSON:
		if r.nJSON++; r.nJSON == 1 {
			r.jsonCredentials = trimOWS(v)
		}
	}
}

// headerKind is what a request header is to the filter.
type headerKind uint8

const (
	hdrPath headerKind = iota
	hdrMethod
	hdrOrigin
	hdrACRM
	hdrCookie
	hdrToken
	hdrClientID
	hdrSecret
	hdrAssertion
	hdrJSON
	numHeaderKinds
)

// headerIndex finds the headers the filter reads. A name's candidates are
// the names of its length (byLen[n] has bit k set when names[k] is n bytes
// long; the last slot holds every longer name) that also end in its last
// byte (byLast), so a header that is none of them is ruled out with two
// table lookups and no string comparison. Header names arrive lower-cased
// from the host, and configured names are validated lower-case and distinct
// from each other and from the fixed ones, so at most one name matches.
//
// The index holds only what the configuration needs on every request: the
// path and method only for exempt prefixes or CORS preflights: inside wasm
// each header found costs a comparison and a call. The x-request-id
// forwarded with an exchange is read then, with a host call (exchange.go).
type headerIndex struct {
	names  [numHeaderKinds]string    // by kind; "" for a disabled header
	words  [numHeaderKinds][3]uint64 // each name's nameWords, compared before its text
	byLen  [maxIndexedNameLen + 2]uint16
	byLast [256]uint16
}

const maxIndexedNameLen = 64

func newHeaderIndex(c *Config) headerIndex {
	var x headerIndex
	x.names = [numHeaderKinds]string{
		hdrCookie: "cookie", hdrToken: c.TokenHeader, hdrClientID: c.ClientIDHeader,
		hdrSecret: c.ClientSecretHeader, hdrAssertion: c.AssertionHeader, hdrJSON: c.JSONCredentialsHeader,
	}
	if len(c.ExemptPathPrefixes) > 0 {
		x.names[hdrPath] = ":path"
	}
	if c.AllowCORSPreflight {
		x.names[hdrMethod], x.names[hdrOrigin], x.names[hdrACRM] = ":method", "origin", "access-control-request-method"
	}
	for k, name := range x.names {
		if name != "" {
			x.byLen[min(len(name), maxIndexedNameLen+1)] |= 1 << k
			x.byLast[name[len(name)-1]] |= 1 << k
			x.words[k] = nameWords(name)
		}
	}
	return x
}

// candidates is the set of names a header name of length n ending in last
// may be; empty for most headers.
func (x *headerIndex) candidates(n int, last byte) uint16 {
	return x.byLen[min(n, maxIndexedNameLen+1)] & x.byLast[last]
}

func (x *headerIndex) kind(name string) (headerKind, bool) {
	if name == "" {
		return 0, false
	}
	return x.match(x.candidates(len(name), name[len(name)-1]), name)
}

// match finds name among candidates m. Names of up to 24 bytes (all the
// default ones but access-control-request-method) are compared by their
// nameWords alone: inside wasm a comparison loop costs a call and a branch
// per step, three word compares do not.
func (x *headerIndex) match(m uint16, name string) (headerKind, bool) {
	w := nameWords(name)
	for m != 0 {
		k := bits.TrailingZeros16(m)
		if x.words[k] == w && len(x.names[k]) == len(name) && (len(name) <= 24 || sameText(x.names[k], name)) {
			return headerKind(k), true
		}
		m &= m - 1
	}
	return 0, false
}

// nameWords is three words that, for strings of one length up to 24 bytes,
// are equal exactly when the strings are: bytes 0-7, 8-15 and the last 8
// (overlapping below 24 bytes; below 16 the second word is the last 8 bytes
// and the third is 0; below 8, 4-byte halves; below 4, all the bytes).
func nameWords(s string) [3]uint64 {
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	switch {
	case n >= 16:
		return [3]uint64{le64(p), le64(unsafe.Add(p, 8)), le64(unsafe.Add(p, n-8))}
	case n >= 8:
		return [3]uint64{le64(p), le64(unsafe.Add(p, n-8)), 0}
	case n >= 4:
		return [3]uint64{uint64(le32at(p, 0)), uint64(le32at(p, n-4)), 0}
	}
	var w uint64
	for i := 0; i < n; i++ {
		w |= uint64(s[i]) << (8 * i)
	}
	return [3]uint64{w, 0, 0}
}

func (r *requestHeaders) addCandidate(tok string) {
	if tok != "" && r.nCandidates < maxSessionCandidates {
		r.candidates[r.nCandidates] = tok
		r.nCandidates++
	}
}

// addCookies finds every cookie called name in one Cookie header value
// ("a=1; name=tok; b=2"). A request may carry several Cookie headers, and a
// browser sends several cookies of one name when their paths differ. OWS
// around a pair's name is tolerated: a cookie name is a token (no '=', ';'
// or whitespace: Config), so "OWS name OWS =" is the same test as comparing
// the trimmed text before the pair's first '='. Inside wasm each search is a
// call: one per pair, and the one across the session JWT looks at 32 bytes a
// step (indexByte).
func (r *requestHeaders) addCookies(header, name string) {
	for header != "" {
		header = trimLeadingOWS(header)
		pair := header
		if i := indexByte(header, ';'); i >= 0 {
			pair, header = header[:i], header[i+1:]
		} else {
			header = ""
		}
		if len(pair) <= len(name) || !sameText(pair[:len(name)], name) {
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

// credentials returns the client id and secret the request carries, or the
// reason code of the 401 that refuses them. The shapes are checked only by
// wellFormed, before an exchange (so that a mistyped or random secret never
// reaches the issuer); credentials checks no more than the lengths, which
// bound what the credential cache hashes.
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
	if !credential.PlausibleLengths(id, secret) {
		return "", "", reasonMalformed
	}
	return id, secret, ""
}

// wellFormed reports whether id and secret have the shapes svcauth issues
// (a secret's checksum included). A hit in this VM's credential cache skips
// it: the hit means the client id equals, and the secret's keyed 128-bit hash
// equals that of, a pair the issuer accepted, which a malformed pair does not
// reach.
func wellFormed(id, secret string) bool {
	return credential.ValidClientID(id) && credential.ValidSecret(secret)
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
