package cache

import (
	"crypto/rand"
	"errors"
)

// HashKeyLen is the length of the credential hash's key.
const HashKeyLen = 32

// Store is proxy shared data: a missing key is (nil, 0, nil), and Set
// fails when cas no longer matches (cas 0 sets unconditionally).
type Store interface {
	Get(key string) (value []byte, cas uint32, err error)
	Set(key string, value []byte, cas uint32) error
}

// SharedHashKey returns the credential hash's key, kept in shared data
// under name: random, made by the first VM of the proxy that needs it and
// read by the others, so that every VM hashes alike (the shared table needs
// that) and the key exists nowhere but in this proxy's memory. It is not
// derived from a configured key: an RS256 configuration holds no secret to
// derive it from, and anyone who can read a configuration could compute it.
//
// Two VMs creating the key at the same moment (a missing key has no cas to
// compare) may end up with different keys; that costs them only each
// other's shared-table hits, never a wrong match (an entry is found under
// its whole hash).
func SharedHashKey(store Store, name string) ([]byte, error) {
	v, cas, err := store.Get(name)
	if err != nil {
		return nil, err
	}
	if len(v) == HashKeyLen {
		return v, nil
	}
	k := make([]byte, HashKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	_ = store.Set(name, k, cas) // lost to another VM: read its key below
	v, _, err = store.Get(name)
	if err != nil {
		return nil, err
	}
	if len(v) != HashKeyLen {
		return nil, errors.New("cache: the shared credential hash key could not be stored")
	}
	return v, nil
}
