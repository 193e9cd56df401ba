package revocation

import (
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

func syncBody(keys string) []byte {
	return []byte(`{"etag":"e","generated_at":1,"sessions_not_before":0,"revoked_tokens":[],"disabled_tokens":[],"keys":[` + keys + `]}`)
}

// TestParseSyncRSAKeys: a sync answer's RS256 key is read as a public key;
// one that carries a secret, an HS256 key with n and e, and an unknown alg
// refuse the whole answer.
func TestParseSyncRSAKeys(t *testing.T) {
	pub := &sessiontest.RSAKey(0).PublicKey
	n, e := session.RSAPublicJWK(pub)
	secret := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"
	rsa := `{"kid":"r1","alg":"RS256","n":"` + n + `","e":"` + e + `","activates_at":5}`
	st, err := ParseSync(syncBody(rsa + `,{"kid":"k1","key":"` + secret + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) != 2 || !st.Keys[0].Key.Public.Equal(pub) || st.Keys[0].Key.Secret != nil || st.Keys[0].ActivatesAt != 5 ||
		st.Keys[1].Key.Public != nil || len(st.Keys[1].Key.Secret) != 32 {
		t.Fatalf("keys %+v", st.Keys)
	}
	for name, keys := range map[string]string{
		"RS256 with a secret": `{"kid":"r1","alg":"RS256","n":"` + n + `","e":"` + e + `","key":"` + secret + `"}`,
		"RS256 without n":     `{"kid":"r1","alg":"RS256","e":"` + e + `"}`,
		"RS256 e = 3":         `{"kid":"r1","alg":"RS256","n":"` + n + `","e":"Aw"}`,
		"HS256 with n":        `{"kid":"k1","key":"` + secret + `","n":"` + n + `"}`,
		"alg ES256":           `{"kid":"k1","alg":"ES256","key":"` + secret + `"}`,
		"alg not a string":    `{"kid":"k1","alg":1,"key":"` + secret + `"}`,
	} {
		if _, err := ParseSync(syncBody(keys)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSyncSigningKeyNeedsASecret: the poll is signed with the newest active
// HS256 key; RS256 keys never sign it, and without an HS256 key there is
// nothing to sign with.
func TestSyncSigningKeyNeedsASecret(t *testing.T) {
	rsaKey := NewKey(session.Key{ID: "app.v3", Public: &sessiontest.RSAKey(0).PublicKey}, 50)
	hmacKey := NewKey(session.Key{ID: "app.v2", Secret: []byte(strings.Repeat("k", 32))}, 10)
	if k, ok := SyncSigningKey([]Key{hmacKey, rsaKey}, 100); !ok || k.Key.ID != "app.v2" {
		t.Fatalf("signing key %q %v, want the HS256 key", k.Key.ID, ok)
	}
	if k, ok := SyncSigningKey([]Key{rsaKey}, 100); ok {
		t.Fatalf("RS256-only filter signs with %q", k.Key.ID)
	}
	if SigningKey([]Key{hmacKey, rsaKey}, 100).Key.ID != "app.v3" {
		t.Fatal("SigningKey (the signing-version gauge) skips RS256 keys")
	}
	other := NewKey(session.Key{ID: "app.v3", Public: &sessiontest.RSAKey(1).PublicKey}, 50)
	if SameKeys([]Key{rsaKey}, []Key{other}) || !DroppedKey([]Key{rsaKey}, []Key{other}) || !SameKeys([]Key{rsaKey}, []Key{rsaKey}) {
		t.Fatal("keys compare by id only, not by their public key")
	}
}
