package plugin

import (
	"strconv"
	"strings"
)

// The shared level of the credential cache (SPEC §3): a fixed table of
// credential_cache_size slots in proxy shared data, indexed by the keyed
// hash, so that a client sending its header pair to any worker VM of a proxy
// costs one exchange per session, not one per worker. A VM looks there only
// when its own cache misses (one host call, on the first request of a client
// in that VM) and writes there after each exchange. A slot holds one entry;
// a colliding credential overwrites it (a miss later, never a wrong match:
// the entry names its client id and full 128-bit hash). Slot values hold no
// secret: the client id, the hash, the session JWT and its claims:
//
//	v2 <h0> <h1> <kid> <exp> <nbf> <iat> <token id> <client id> <jwt>
//
// (v1 entries hashed the client id with the secret; a VM of this version
// ignores them.)
//
// An entry whose key the filter no longer holds is ignored.

func (p *pluginContext) credSlotKey(k credKey) string {
	return p.sync.credPrefix + strconv.FormatUint(k.h0%uint64(p.cfg.CredentialCacheSize), 10)
}

func encodeCredEntry(k credKey, e *credEntry) []byte {
	b := make([]byte, 0, 160+len(e.jwt))
	b = append(b, "v2 "...)
	b = strconv.AppendUint(b, k.h0, 16)
	b = append(b, ' ')
	b = strconv.AppendUint(b, k.h1, 16)
	b = append(b, ' ')
	b = append(b, e.kid...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.info.exp, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.info.nbf, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.info.iat, 10)
	b = append(b, ' ')
	b = append(b, e.info.tokenID...)
	b = append(b, ' ')
	b = append(b, k.id...)
	b = append(b, ' ')
	return append(b, e.jwt...)
}

// decodeCredEntry returns the entry in v if it is for exactly k.
func decodeCredEntry(v []byte, k credKey) (*credEntry, bool) {
	f := strings.Split(string(v), " ")
	if len(f) != 10 || f[0] != "v2" || f[8] != k.id {
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
	return &credEntry{jwt: f[9], kid: f[3], info: sessionInfo{exp: exp, nbf: nbf, iat: iat, tokenID: f[7]}}, true
}

// shareable reports whether an entry's fields fit the space-separated format.
func shareable(k credKey, e *credEntry) bool {
	for _, s := range [...]string{k.id, e.kid, e.info.tokenID, e.jwt} {
		if s == "" || !isVisibleASCII(s) {
			return false
		}
	}
	return true
}

// sharedCredential looks k up in the shared table.
func (p *pluginContext) sharedCredential(k credKey) (*credEntry, bool) {
	v, _, err := sharedGet(p.credSlotKey(k))
	if err != nil || v == nil {
		return nil, false
	}
	e, ok := decodeCredEntry(v, k)
	if !ok || !p.hasKey(e.kid) {
		return nil, false
	}
	return e, true
}

// shareCredential writes an entry to the shared table. A lost CAS race
// means another VM wrote the slot just now: either entry is fine.
func (p *pluginContext) shareCredential(k credKey, e *credEntry) {
	if !shareable(k, e) {
		return
	}
	key := p.credSlotKey(k)
	_, cas, err := sharedGet(key)
	if err != nil {
		return
	}
	_ = setSharedData(key, encodeCredEntry(k, e), cas)
}

func (p *pluginContext) hasKey(kid string) bool {
	for i := range p.keys {
		if p.keys[i].key.ID == kid {
			return true
		}
	}
	return false
}
