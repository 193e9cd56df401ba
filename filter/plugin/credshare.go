package plugin

import (
	"strconv"

	"github.com/svcauth/svcauth/filter/cache"
)

// The shared level of the credential cache: a table of credential_cache_size
// slots in proxy shared data (the format and why: filter/cache/shared.go).
// A VM looks there only when its own cache misses (one host call, on the
// first request of a client in that VM) and writes there after each
// exchange. An entry whose key the filter no longer holds is ignored.

func (p *pluginContext) credSlotKey(k cache.CredKey) string {
	return p.sync.credPrefix + strconv.FormatUint(k.Slot(p.cfg.CredentialCacheSize), 10)
}

// sharedCredential looks k up in the shared table.
func (p *pluginContext) sharedCredential(k cache.CredKey) (*cache.CredEntry, bool) {
	v, _, err := shared.Get(p.credSlotKey(k))
	if err != nil || v == nil {
		return nil, false
	}
	e, ok := cache.DecodeShared(v, k)
	if !ok || !p.hasKey(e.KID) {
		return nil, false
	}
	return e, true
}

// shareCredential writes an entry to the shared table. A lost CAS race
// means another VM wrote the slot just now: either entry is fine.
func (p *pluginContext) shareCredential(k cache.CredKey, e *cache.CredEntry) {
	if !cache.Shareable(k, e) {
		return
	}
	key := p.credSlotKey(k)
	_, cas, err := shared.Get(key)
	if err != nil {
		return
	}
	_ = shared.Set(key, cache.EncodeShared(k, e), cas)
}

func (p *pluginContext) hasKey(kid string) bool {
	for i := range p.keys {
		if p.keys[i].Key.ID == kid {
			return true
		}
	}
	return false
}
