package session

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

// FuzzVerify feeds Verify arbitrary tokens and clocks. Plain `go test` runs
// the seeds; `go test -fuzz FuzzVerify ./filter/session` explores further.
// Invariants: Verify never panics; every failure is one of the package's Err
// values; a token that verifies re-verifies identically, satisfies every
// claim check, and is exactly what Sign would produce for its signing input
// (no second spelling of a signature verifies), for HS256 and RS256 keys.
func FuzzVerify(f *testing.F) {
	good := mustSign(f, testKey, testClaim)
	parts := strings.Split(good, ".")
	sig, _ := b64.DecodeString(parts[2])
	payload, _ := b64.DecodeString(parts[1])
	notYet := testClaim
	notYet.NotBefore = testNow + 120
	rs, rk := rsaKey(f, 0, "r1")
	rsGood := mustSignWith(f, rs, testClaim)
	for _, tok := range []string{
		good,
		rsGood,
		rawToken(`{"alg":"HS256","kid":"r1"}`, string(payload), sig),
		rawToken(`{"alg":"RS256","kid":"r1"}`, string(payload), sig),
		nonCanonicalSignature(rsGood),
		mustSign(f, otherKey, testClaim),
		mustSign(f, testKey, notYet),
		mustSign(f, Key{ID: "k1", Secret: otherKey.Secret}, testClaim),
		parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "A",
		nonCanonicalSignature(good),
		parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(payload), "tok-1", "tok-2", 1))) + "." + parts[2],
		rawToken(`{"alg":"none","kid":"k1"}`, string(payload), nil),
		rawToken(`{"alg":"none","kid":"k1"}`, string(payload), sig),
		rawToken(`{"alg":"RS256","kid":"k1"}`, string(payload), sig),
		rawToken(`{"alg":"HS256"}`, string(payload), sig),
		rawToken(`{"alg":"HS256","kid":"k1"}`, `{"type":"app","aud":"`+testAud+`","exp":1e30,"nbf":-1}`, sig),
		"", ".", "..", "a.b.c", strings.Repeat("a", MaxTokenLength+1),
	} {
		f.Add(tok, testNow)
	}
	f.Add(good, testNow+3600+30)
	f.Add(good, int64(-1<<63))
	f.Add(good, int64(1<<63-1))

	f.Fuzz(func(t *testing.T, token string, now int64) {
		v, err := NewVerifier(testAud, []Key{testKey, otherKey, rk}, 30)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(token, now)
		if err != nil {
			switch err {
			case ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrAudience, ErrExpired, ErrNotYetValid, ErrClaims:
			default:
				t.Fatalf("unexpected error %#v", err)
			}
			return
		}
		c2, err2 := v.Verify(token, now)
		if err2 != nil || c2 != c {
			t.Fatalf("second Verify differs: %+v %v, first %+v", c2, err2, c)
		}
		if c.Type != TypeApp || c.Audience != testAud || now >= c.ExpiresAt+30 || now+30 < c.NotBefore {
			t.Fatalf("verified claims break a check: %+v at %d", c, now)
		}
		signingInput := token[:strings.LastIndexByte(token, '.')]
		canonical := false
		for _, k := range []Key{testKey, otherKey} {
			canonical = canonical || signingInput+"."+hmacB64(k.Secret, signingInput) == token
		}
		// PKCS #1 v1.5 signatures are deterministic: one per signing input.
		digest := sha256.Sum256([]byte(signingInput))
		if rsSig, err := rsa.SignPKCS1v15(nil, sessiontest.RSAKey(0), crypto.SHA256, digest[:]); err == nil {
			canonical = canonical || signingInput+"."+b64.EncodeToString(rsSig) == token
		}
		if !canonical {
			t.Fatalf("token verifies with a non-canonical signature: %q", token)
		}
	})
}

// nonCanonicalSignature respells the last character of good's signature so
// that it decodes to the same bytes: 43 base64 characters carry 258 bits for a
// 256-bit MAC, and a lenient decoder ignores the 2 spare bits.
func nonCanonicalSignature(good string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, good[len(good)-1])
	return good[:len(good)-1] + string(alphabet[i|1])
}
