package session

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

func rsaKey(t testing.TB, i int, kid string) (*Signer, Key) {
	t.Helper()
	s, err := NewRSASigner(kid, sessiontest.RSAKey(i))
	if err != nil {
		t.Fatal(err)
	}
	return s, s.key
}

func TestRS256RoundTripBesideHS256(t *testing.T) {
	rs, rk := rsaKey(t, 0, "r1")
	v, err := NewVerifier(testAud, []Key{testKey, rk}, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{mustSign(t, testKey, testClaim), mustSignWith(t, rs, testClaim)} {
		if got, err := v.Verify(tok, testNow); err != nil || got != testClaim {
			t.Fatalf("Verify(%.40s…) = %+v, %v", tok, got, err)
		}
	}
	if rk.Secret != nil || rk.Algorithm() != RS256 || testKey.Algorithm() != HS256 {
		t.Fatalf("key algorithms: %s %s, RSA key carries a secret: %v", rk.Algorithm(), testKey.Algorithm(), rk.Secret != nil)
	}
}

func mustSignWith(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRS256AlgorithmMustMatchTheKey: the classic confusion attack (an HS256
// token MACed with the bytes of the published RSA key, in every form an
// origin might publish it) and its mirror image are refused by alg, before
// any signature is computed; so are alg none and forged RS256 signatures.
func TestRS256AlgorithmMustMatchTheKey(t *testing.T) {
	rs, rk := rsaKey(t, 0, "r1")
	otherSigner, otherRSA := rsaKey(t, 1, "r1")
	v, err := NewVerifier(testAud, []Key{testKey, rk}, 30)
	if err != nil {
		t.Fatal(err)
	}
	good := mustSignWith(t, rs, testClaim)
	parts := strings.Split(good, ".")
	payload, _ := b64.DecodeString(parts[1])
	sig, _ := b64.DecodeString(parts[2])
	der, _ := x509.MarshalPKIXPublicKey(rk.Public)
	n, e := RSAPublicJWK(rk.Public)
	jwk, _ := json.Marshal(map[string]string{"kty": "RSA", "kid": "r1", "n": n, "e": e})
	hsWith := func(secret []byte) string {
		unsigned := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"r1","typ":"JWT"}`)) + "." + parts[1]
		return unsigned + "." + hmacB64(secret, unsigned)
	}
	flipped := append([]byte(nil), sig...)
	flipped[10] ^= 1
	cases := []struct {
		name, token string
		want        error
	}{
		{"HS256 with the public key's DER", hsWith(der), ErrAlgorithm},
		{"HS256 with the modulus", hsWith(rk.Public.N.Bytes()), ErrAlgorithm},
		{"HS256 with the JWK", hsWith(jwk), ErrAlgorithm},
		{"RS256 under an HS256 kid", rawToken(`{"alg":"RS256","kid":"k1","typ":"JWT"}`, string(payload), sig), ErrAlgorithm},
		{"alg none under the RSA kid", rawToken(`{"alg":"none","kid":"r1"}`, string(payload), nil), ErrAlgorithm},
		{"alg rs256 lowercase", rawToken(`{"alg":"rs256","kid":"r1"}`, string(payload), sig), ErrAlgorithm},
		{"PS256", rawToken(`{"alg":"PS256","kid":"r1"}`, string(payload), sig), ErrAlgorithm},
		{"signed by another RSA key", mustSignWith(t, otherSigner, testClaim), ErrSignature},
		{"flipped signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(flipped), ErrSignature},
		{"HMAC-length signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:32]), ErrMalformed},
		{"non-canonical RS256 signature", nonCanonicalSignature(good), ErrMalformed},
		{"signature one byte short", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[1:]), ErrMalformed},
		{"tampered payload", parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(payload), "tok-1", "tok-2", 1))) + "." + parts[2], ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(tc.token, testNow); err != tc.want {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewVerifier(testAud, []Key{otherRSA}, 0); err != nil {
		t.Fatal(err)
	}
	// A key holding both a secret and a public key would sign HMACs
	// labelled RS256 (the header's alg is the key's).
	if _, err := NewSigner(Key{ID: "r1", Secret: testKey.Secret, Public: rk.Public}); err == nil {
		t.Fatal("NewSigner took a key with a public key")
	}
}

func TestRSAPublicJWKRoundTripAndBounds(t *testing.T) {
	pub := &sessiontest.RSAKey(0).PublicKey
	n, e := RSAPublicJWK(pub)
	if e != "AQAB" {
		t.Fatalf("e = %q, want AQAB", e)
	}
	got, err := ParseRSAPublicJWK(n, e)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParseRSAPublicJWK: %v, equal %v", err, err == nil && got.Equal(pub))
	}
	small := new(big.Int).Lsh(big.NewInt(1), 1023)
	small.Add(small, big.NewInt(1))
	even := new(big.Int).Lsh(big.NewInt(1), 2047)
	for name, c := range map[string][2]string{
		"e = 3":          {n, "Aw"},
		"e with a zero":  {n, "AAEAAQ"},
		"padded n":       {n + "=", e},
		"n leading zero": {b64.EncodeToString(append([]byte{0}, pub.N.Bytes()...)), e},
		"1024-bit n":     {b64.EncodeToString(small.Bytes()), e},
		"even n":         {b64.EncodeToString(even.Bytes()), e},
		"empty n":        {"", e},
		"not base64":     {"!!", e},
	} {
		if _, err := ParseRSAPublicJWK(c[0], c[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewVerifier(testAud, []Key{{ID: "r", Public: &rsa.PublicKey{N: small, E: RSAExponent}}}, 0); err == nil {
		t.Error("1024-bit RSA key accepted by NewVerifier")
	}
}
