package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/race"
)

func TestLoadMasterGeneratesOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, src, err := LoadMaster(path, "")
	if err != nil || src != SourceGenerated || len(k1) != MasterKeySize {
		t.Fatalf("first load: %d bytes, %q, %v", len(k1), src, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	k2, src, err := LoadMaster(path, "")
	if err != nil || src != SourceFile || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %q, %v, same key %v", src, err, bytes.Equal(k1, k2))
	}
}

func TestLoadMasterEnvOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	want := bytes.Repeat([]byte{7}, 32)
	got, src, err := LoadMaster(path, base64.StdEncoding.EncodeToString(want))
	if err != nil || src != SourceEnv || !bytes.Equal(got, want) {
		t.Fatalf("env: %q, %v", src, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("env key wrote a file")
	}
}

func TestLoadMasterRejectsBadKeys(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short":      base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"not base64": "%%%%",
		"empty":      "",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(content), 0o600)
		if _, _, err := LoadMaster(path, ""); err == nil {
			t.Errorf("%s file accepted", name)
		}
		if content != "" {
			if _, _, err := LoadMaster("", content); err == nil {
				t.Errorf("%s env accepted", name)
			}
		}
	}
}

func TestSessionKeyFollowsTheContract(t *testing.T) {
	master := bytes.Repeat([]byte{1}, 32)
	k, err := New(master)
	if err != nil {
		t.Fatal(err)
	}
	aud := strings.Repeat("ab", 32)
	key := k.SessionKey(aud, 1)
	if key.ID != aud[:12]+".v1" {
		t.Fatalf("kid %q", key.ID)
	}
	want, _ := hkdf.Key(sha256.New, master, nil, "svcauth/session-key/v1/"+aud+"/"+key.ID, 32)
	if !bytes.Equal(key.Secret, want) {
		t.Fatal("session key differs from HKDF-SHA256(master, nil, info)")
	}
	if bytes.Equal(k.SessionKey(aud, 2).Secret, key.Secret) {
		t.Fatal("key versions share a key")
	}
	if bytes.Equal(k.SessionKey(strings.Repeat("cd", 32), 1).Secret, key.Secret) {
		t.Fatal("apps share a key")
	}
}

func TestHashes(t *testing.T) {
	master := bytes.Repeat([]byte{2}, 32)
	k, _ := New(master)
	pepper, _ := hkdf.Key(sha256.New, master, nil, "svcauth/secret-pepper/v1", 32)
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("secret"))
	if !bytes.Equal(k.HashSecret("secret"), m.Sum(nil)) {
		t.Fatal("HashSecret is not HMAC-SHA-256(pepper, secret)")
	}
	if bytes.Equal(k.HashSecret("x"), k.HashAdminKey("x")) {
		t.Fatal("secret and admin key hashes share a pepper")
	}
	other, _ := New(bytes.Repeat([]byte{3}, 32))
	if bytes.Equal(k.HashSecret("x"), other.HashSecret("x")) {
		t.Fatal("hash does not depend on the master key")
	}
	// The pooled buffer path (usual secrets) and the long one agree with
	// a fresh HMAC, whatever ran before in the pooled state.
	for _, secret := range []string{strings.Repeat("s", 60), strings.Repeat("L", 500), "secret"} {
		m := hmac.New(sha256.New, pepper)
		m.Write([]byte(secret))
		if got := k.AppendSecretHash([]byte("p:"), secret); string(got) != "p:"+string(m.Sum(nil)) {
			t.Fatalf("AppendSecretHash of %d bytes differs", len(secret))
		}
	}
	dst, usual := make([]byte, 0, 32), strings.Repeat("s", 60)
	if n := testing.AllocsPerRun(100, func() { k.AppendSecretHash(dst, usual) }); n != 0 && !race.Enabled {
		t.Fatalf("AppendSecretHash: %.0f allocations per call, want none", n)
	}
}

func TestAdminKeyShape(t *testing.T) {
	a, b := NewAdminKey(), NewAdminKey()
	if a == b || !ValidAdminKey(a) || !strings.HasPrefix(a, AdminKeyPrefix) {
		t.Fatalf("admin keys %q %q", a, b)
	}
	for _, bad := range []string{"", a[:len(a)-1], a + "x", "svcauth_cs_" + a[len(AdminKeyPrefix):], a[:20] + "!" + a[21:]} {
		if ValidAdminKey(bad) {
			t.Errorf("ValidAdminKey(%q) = true", bad)
		}
	}
}

func TestWriteSecretFileRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteSecretFile(path, "one"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecretFile(path, "two"); err == nil {
		t.Fatal("overwrote an existing file")
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
}
