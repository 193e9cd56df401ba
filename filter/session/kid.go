package session

import (
	"strconv"
	"strings"
)

// KeyID is the kid of version of an application's key: the first 12
// characters of its aud, ".v", the version. The issuer names keys with it and
// the filter reads the version back (KeyVersion), so it is defined here once.
func KeyID(aud string, version int) string {
	if len(aud) > 12 {
		aud = aud[:12]
	}
	return aud + ".v" + strconv.Itoa(version)
}

// KeyVersion returns N for a kid KeyID made ("….vN"), else 0.
func KeyVersion(kid string) int64 {
	i := strings.LastIndex(kid, ".v")
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(kid[i+2:], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
