package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// TestSyncMAC pins the sync signature's input and encoding (the contract in
// filter/SYNC-PROTOCOL.md), computed here independently.
func TestSyncMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("svcauth-sync/v1\nabab\n1700000000"))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if got := SyncMAC(key, "abab", "1700000000"); got != want {
		t.Fatalf("SyncMAC = %s, want %s", got, want)
	}
	if SyncMAC(key, "abab", "1700000001") == want || SyncMAC(key, "abac", "1700000000") == want {
		t.Fatal("SyncMAC ignores its timestamp or audience")
	}
}
