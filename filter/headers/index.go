package headers

import (
	"math/bits"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// Kind is what a request header is to the filter.
type Kind uint8

// The kinds of header the filter reads.
const (
	Path Kind = iota
	Method
	Origin
	ACRM // access-control-request-method
	Cookie
	Token
	ClientID
	Secret
	Assertion
	JSON
	numKinds
)

// Names are the configured names of the headers the filter reads (lower
// case, distinct from each other and from the fixed names: the
// configuration validates that) and the name of the session cookie.
type Names struct {
	Token, ClientID, ClientSecret, Assertion, JSONCredentials string // "" disables the header
	CookieName                                                string
	ReadPath                                                  bool // exempt path prefixes are configured
	ReadCORS                                                  bool // CORS preflights may pass
}

// Index finds the headers the filter reads. A name's candidates are the
// names of its length that also end in its last byte (rawmem.NameFilter),
// so a header that is none of them is ruled out with two table lookups and
// no string comparison. Header names arrive lower-cased from
// the host and configured names are distinct, so at most one name matches.
//
// The index holds only what the configuration needs on every request: the
// path and method only for exempt prefixes or CORS preflights, as inside
// wasm each header found costs a comparison and a call.
type Index struct {
	names      [numKinds]string    // by kind; "" for a header not read
	words      [numKinds][3]uint64 // each name's nameWords, compared before its text
	filter     rawmem.NameFilter
	cookieName string
}

// NewIndex indexes the headers that n names.
func NewIndex(n Names) Index {
	var x Index
	x.cookieName = n.CookieName
	x.names = [numKinds]string{
		Cookie: "cookie", Token: n.Token, ClientID: n.ClientID,
		Secret: n.ClientSecret, Assertion: n.Assertion, JSON: n.JSONCredentials,
	}
	if n.ReadPath {
		x.names[Path] = ":path"
	}
	if n.ReadCORS {
		x.names[Method], x.names[Origin], x.names[ACRM] = ":method", "origin", "access-control-request-method"
	}
	for k, name := range x.names {
		if name != "" {
			x.filter.ByLen[min(len(name), rawmem.MaxFilteredNameLen+1)] |= 1 << k
			x.filter.ByLast[name[len(name)-1]] |= 1 << k
			x.words[k] = nameWords(name)
		}
	}
	return x
}

// Kind reports which of the filter's headers name is, if any.
func (x *Index) Kind(name string) (Kind, bool) {
	if name == "" {
		return 0, false
	}
	return x.match(x.filter.Candidates(len(name), name[len(name)-1]), name)
}

// match finds name among candidates m. Names of up to 24 bytes (all the
// default ones but access-control-request-method) are compared by their
// nameWords alone.
func (x *Index) match(m uint16, name string) (Kind, bool) {
	w := nameWords(name)
	for m != 0 {
		k := bits.TrailingZeros16(m)
		if x.words[k] == w && len(x.names[k]) == len(name) && (len(name) <= 24 || rawmem.SameText(x.names[k], name)) {
			return Kind(k), true
		}
		m &= m - 1
	}
	return 0, false
}
