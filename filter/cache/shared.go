package cache

import (
	"strconv"
	"strings"

	"github.com/svcauth/svcauth/filter/internal/syntax"
)

// The shared level of the credential cache (SPEC §3): a fixed table of
// credential_cache_size slots in proxy shared data, indexed by the keyed
// hash (CredKey.Slot), so that a client sending its header pair to any
// worker VM of a proxy costs one exchange per session, not one per worker.
// A VM looks there only when its own cache misses and writes there after
// each exchange. A slot holds one entry; a colliding credential overwrites
// it (a miss later, never a wrong match: the entry names its client id and
// full 128-bit hash). Slot values hold no secret: the client id, the hash,
// the session JWT and its claims:
//
//	v2 <h0> <h1> <kid> <exp> <nbf> <iat> <token id> <client id> <jwt>
//
// (v1 entries hashed the client id with the secret; this version ignores
// them.)

// EncodeShared is k's entry e as a slot value.
func EncodeShared(k CredKey, e *CredEntry) []byte {
	b := make([]byte, 0, 160+len(e.JWT))
	b = append(b, "v2 "...)
	b = strconv.AppendUint(b, k.h0, 16)
	b = append(b, ' ')
	b = strconv.AppendUint(b, k.h1, 16)
	b = append(b, ' ')
	b = append(b, e.KID...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Info.Exp, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Info.NBF, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Info.IAT, 10)
	b = append(b, ' ')
	b = append(b, e.Info.TokenID...)
	b = append(b, ' ')
	b = append(b, k.ID...)
	b = append(b, ' ')
	return append(b, e.JWT...)
}

// DecodeShared returns the entry in slot value v if it is for exactly k.
func DecodeShared(v []byte, k CredKey) (*CredEntry, bool) {
	f := strings.Split(string(v), " ")
	if len(f) != 10 || f[0] != "v2" || f[8] != k.ID {
		return nil, false
	}
	h0, e1 := strconv.ParseUint(f[1], 16, 64)
	h1, e2 := strconv.ParseUint(f[2], 16, 64)
	exp, e3 := strconv.ParseInt(f[4], 10, 64)
	nbf, e4 := strconv.ParseInt(f[5], 10, 64)
	iat, e5 := strconv.ParseInt(f[6], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil || h0 != k.h0 || h1 != k.h1 || f[9] == "" {
		return nil, false
	}
	return &CredEntry{JWT: f[9], KID: f[3], Info: Session{Exp: exp, NBF: nbf, IAT: iat, TokenID: f[7]}}, true
}

// Shareable reports whether an entry's fields fit the space-separated format.
func Shareable(k CredKey, e *CredEntry) bool {
	for _, s := range [...]string{k.ID, e.KID, e.Info.TokenID, e.JWT} {
		if s == "" || !syntax.VisibleASCII(s) {
			return false
		}
	}
	return true
}
