package headers

import (
	"github.com/tidwall/gjson"

	"github.com/svcauth/svcauth/filter/credential"
)

// The reasons Credentials refuses a request's credentials: the reason codes
// of the filter's 401 replies.
const (
	Missing     = "missing_credentials"
	Partial     = "partial_credentials"
	Duplicate   = "duplicate_credentials"
	Conflicting = "conflicting_credentials"
	Malformed   = "malformed_credentials"
)

// Credentials returns the client id and secret the request carries, or the
// reason its credentials are refused. The shapes are checked only by
// WellFormed, before an exchange (so that a mistyped or random secret never
// reaches the issuer); Credentials checks no more than the lengths, which
// bound what the credential cache hashes.
func (r *Request) Credentials() (id, secret, reason string) {
	pair := r.nClientID > 0 || r.NSecret > 0
	switch {
	case pair && r.NJSON > 0:
		return "", "", Conflicting
	case r.nClientID > 1 || r.NSecret > 1 || r.NJSON > 1:
		return "", "", Duplicate
	case r.NJSON == 1:
		id, secret, reason = parseJSONCredentials(r.jsonCredentials)
		if reason != "" {
			return "", "", reason
		}
	case r.nClientID == 1 && r.NSecret == 1:
		id, secret = r.clientID, r.secret
	case pair:
		return "", "", Partial
	default:
		return "", "", Missing
	}
	if !credential.PlausibleLengths(id, secret) {
		return "", "", Malformed
	}
	return id, secret, ""
}

// WellFormed reports whether id and secret have the shapes svcauth issues
// (a secret's checksum included). A hit in the VM's credential cache skips
// it: the hit means the client id equals, and the secret's keyed 128-bit
// hash equals that of, a pair the issuer accepted, which a malformed pair
// does not reach.
func WellFormed(id, secret string) bool {
	return credential.ValidClientID(id) && credential.ValidSecret(secret)
}

// parseJSONCredentials reads {"cf-access-client-id":"…","cf-access-client-secret":"…"}.
func parseJSONCredentials(v string) (id, secret, reason string) {
	if !gjson.Valid(v) {
		return "", "", Malformed
	}
	doc := gjson.Parse(v)
	if !doc.IsObject() {
		return "", "", Malformed
	}
	idv, sv := doc.Get("cf-access-client-id"), doc.Get("cf-access-client-secret")
	switch {
	case !idv.Exists() && !sv.Exists():
		return "", "", Missing
	case !idv.Exists() || !sv.Exists():
		return "", "", Partial
	case idv.Type != gjson.String || sv.Type != gjson.String:
		return "", "", Malformed
	}
	return idv.Str, sv.Str, ""
}
