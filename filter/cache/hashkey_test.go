package cache

import (
	"bytes"
	"errors"
	"testing"
)

// memStore is shared data for one proxy, with Envoy's cas rules.
type memStore struct {
	v      map[string][]byte
	cas    map[string]uint32
	getErr error
}

func newMemStore() *memStore { return &memStore{v: map[string][]byte{}, cas: map[string]uint32{}} }

func (m *memStore) Get(key string) ([]byte, uint32, error) {
	if m.getErr != nil {
		return nil, 0, m.getErr
	}
	return m.v[key], m.cas[key], nil
}

func (m *memStore) Set(key string, value []byte, cas uint32) error {
	if cas != 0 && cas != m.cas[key] {
		return errors.New("cas mismatch")
	}
	m.v[key], m.cas[key] = append([]byte(nil), value...), m.cas[key]+1
	return nil
}

// TestSharedHashKey: the first VM makes a random key, the next ones of the
// same proxy read it, another proxy makes another, a damaged value is
// replaced, and a failing store fails the start.
func TestSharedHashKey(t *testing.T) {
	proxy := newMemStore()
	first, err := SharedHashKey(proxy, "k")
	if err != nil || len(first) != HashKeyLen || bytes.Equal(first, make([]byte, HashKeyLen)) {
		t.Fatalf("first key %x, %v", first, err)
	}
	again, err := SharedHashKey(proxy, "k")
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("second VM's key %x, want the first's %x (%v)", again, first, err)
	}
	other, err := SharedHashKey(newMemStore(), "k")
	if err != nil || bytes.Equal(other, first) {
		t.Fatalf("another proxy's key %x equals this one's", other)
	}
	proxy.v["k"] = []byte("short")
	if fixed, err := SharedHashKey(proxy, "k"); err != nil || len(fixed) != HashKeyLen || bytes.Equal(fixed, first) {
		t.Fatalf("damaged key replaced by %x, %v", fixed, err)
	}
	proxy.getErr = errors.New("host call failed")
	if _, err := SharedHashKey(proxy, "k"); err == nil {
		t.Fatal("a failing store gave a key")
	}
}
