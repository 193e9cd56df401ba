package keys

import (
	"bytes"
	"testing"

	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

// TestRSAKeyMaterialSealsThePrivateKey: the stored form holds no plaintext
// of the private key, opens to the same key, and opens only under the same
// master key, aud and kid.
func TestRSAKeyMaterialSealsThePrivateKey(t *testing.T) {
	kr, _ := New(bytes.Repeat([]byte{1}, MasterKeySize))
	other, _ := New(bytes.Repeat([]byte{2}, MasterKeySize))
	priv := sessiontest.RSAKey(0)
	m, err := kr.RSAKeyMaterial("aud1", "aud1.v2", priv)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m.SealedPrivateKey, priv.D.Bytes()[:16]) || bytes.Contains(m.SealedPrivateKey, priv.Primes[0].Bytes()[:16]) {
		t.Fatal("sealed key contains the private exponent or a prime in clear")
	}
	got, err := kr.OpenRSAKey("aud1", "aud1.v2", m)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("OpenRSAKey: %v", err)
	}
	if pub, err := RSAPublicKey(m); err != nil || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("RSAPublicKey: %v", err)
	}
	again, _ := kr.RSAKeyMaterial("aud1", "aud1.v2", priv)
	if bytes.Equal(again.SealedPrivateKey, m.SealedPrivateKey) {
		t.Fatal("two seals of one key are equal: the nonce is not fresh")
	}
	for name, open := range map[string]func() error{
		"other master key": func() error { _, err := other.OpenRSAKey("aud1", "aud1.v2", m); return err },
		"other aud":        func() error { _, err := kr.OpenRSAKey("aud2", "aud1.v2", m); return err },
		"other kid":        func() error { _, err := kr.OpenRSAKey("aud1", "aud1.v3", m); return err },
		"truncated": func() error {
			c := m
			c.SealedPrivateKey = c.SealedPrivateKey[:20]
			_, err := kr.OpenRSAKey("aud1", "aud1.v2", c)
			return err
		},
		"other public half": func() error {
			c := m
			c.PublicKey = mustMaterial(t, kr, 1).PublicKey
			_, err := kr.OpenRSAKey("aud1", "aud1.v2", c)
			return err
		},
	} {
		if open() == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func mustMaterial(t *testing.T, kr *Keyring, i int) (m struct{ PublicKey []byte }) {
	t.Helper()
	k, err := kr.RSAKeyMaterial("aud1", "aud1.v2", sessiontest.RSAKey(i))
	if err != nil {
		t.Fatal(err)
	}
	m.PublicKey = k.PublicKey
	return m
}
