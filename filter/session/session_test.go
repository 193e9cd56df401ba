package session

import (
	"bytes"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/race"
)

var (
	testKey   = Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	otherKey  = Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
	testAud   = strings.Repeat("ab", 32)
	testNow   = int64(1_800_000_000)
	testClaim = Claims{
		Type: TypeApp, Audience: testAud, Issuer: "https://issuer.example",
		IssuedAt: testNow, NotBefore: testNow, ExpiresAt: testNow + 3600,
		CommonName: "0123456789abcdef0123456789abcdef.access", ID: "jti-1", TokenID: "tok-1",
	}
)

func mustSign(t testing.TB, k Key, c Claims) string {
	t.Helper()
	tok, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func rawToken(header, payload string, sig []byte) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sig)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	v, err := NewVerifier(testAud, []Key{otherKey, testKey}, 30)
	if err != nil {
		t.Fatal(err)
	}
	c := testClaim
	c.Issuer = "https://issuer.example/\"quoted\"\n"
	got, err := v.Verify(mustSign(t, testKey, c), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("claims changed in round trip:\n got %+v\nwant %+v", got, c)
	}
}

func TestVerifyRejects(t *testing.T) {
	v, err := NewVerifier(testAud, []Key{testKey}, 30)
	if err != nil {
		t.Fatal(err)
	}
	good := mustSign(t, testKey, testClaim)
	parts := strings.Split(good, ".")
	sig, _ := b64.DecodeString(parts[2])
	payload, _ := b64.DecodeString(parts[1])

	wrongAud := testClaim
	wrongAud.Audience = strings.Repeat("cd", 32)
	notYet := testClaim
	notYet.NotBefore = testNow + 120
	tamperedPayload := strings.Replace(string(payload), `"tok-1"`, `"tok-2"`, 1)
	flippedSig := append([]byte(nil), sig...)
	flippedSig[0] ^= 1
	flipped := parts[0] + "." + parts[1] + "." + b64.EncodeToString(flippedSig)

	cases := []struct {
		name  string
		token string
		now   int64
		want  error
	}{
		{"empty", "", testNow, ErrMalformed},
		{"too long", strings.Repeat("a", MaxTokenLength+1), testNow, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], testNow, ErrMalformed},
		{"bad base64 header", "%%%." + parts[1] + "." + parts[2], testNow, ErrMalformed},
		{"header not json", rawToken("nope", string(payload), sig), testNow, ErrMalformed},
		{"alg none", rawToken(`{"alg":"none","kid":"k1"}`, string(payload), nil), testNow, ErrAlgorithm},
		{"alg none with sig", rawToken(`{"alg":"none","kid":"k1"}`, string(payload), sig), testNow, ErrAlgorithm},
		{"alg RS256", rawToken(`{"alg":"RS256","kid":"k1"}`, string(payload), sig), testNow, ErrAlgorithm},
		{"alg hs256 lowercase", rawToken(`{"alg":"hs256","kid":"k1"}`, string(payload), sig), testNow, ErrAlgorithm},
		{"no kid", rawToken(`{"alg":"HS256"}`, string(payload), sig), testNow, ErrUnknownKey},
		{"unknown kid", mustSign(t, otherKey, testClaim), testNow, ErrUnknownKey},
		{"wrong key same kid", mustSign(t, Key{ID: "k1", Secret: otherKey.Secret}, testClaim), testNow, ErrSignature},
		{"flipped signature", flipped, testNow, ErrSignature},
		{"tampered payload", parts[0] + "." + b64.EncodeToString([]byte(tamperedPayload)) + "." + parts[2], testNow, ErrSignature},
		{"wrong audience", mustSign(t, testKey, wrongAud), testNow, ErrAudience},
		{"expired", good, testNow + 3600 + 30, ErrExpired},
		{"not yet valid", mustSign(t, testKey, notYet), testNow, ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(tc.token, tc.now); err != tc.want {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyAllowsClockSkew(t *testing.T) {
	v, _ := NewVerifier(testAud, []Key{testKey}, 30)
	tok := mustSign(t, testKey, testClaim)
	if _, err := v.Verify(tok, testNow+3600+29); err != nil {
		t.Fatalf("29 s past exp with 30 s skew: %v", err)
	}
	if _, err := v.Verify(tok, testNow-29); err != nil {
		t.Fatalf("29 s before nbf with 30 s skew: %v", err)
	}
}

func TestVerifyRejectsBadClaimTypes(t *testing.T) {
	v, _ := NewVerifier(testAud, []Key{testKey}, 0)
	for _, payload := range []string{
		`{"type":"app","aud":["` + testAud + `"],"exp":"soon","nbf":0}`,
		`{"type":"org","aud":["` + testAud + `"],"exp":1900000000,"nbf":0}`,
		`{"type":"app","aud":{"x":1},"exp":1900000000,"nbf":0}`,
		`{"type":"app","aud":["` + testAud + `"],"nbf":0}`,
	} {
		unsigned := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + b64.EncodeToString([]byte(payload))
		tok := unsigned + "." + hmacB64(testKey.Secret, unsigned)
		if _, err := v.Verify(tok, testNow); err != ErrClaims {
			t.Errorf("payload %s: error = %v, want %v", payload, err, ErrClaims)
		}
	}
}

func TestNewVerifierValidates(t *testing.T) {
	if _, err := NewVerifier("", []Key{testKey}, 0); err == nil {
		t.Error("empty audience accepted")
	}
	if _, err := NewVerifier(testAud, nil, 0); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := NewVerifier(testAud, []Key{{ID: "short", Secret: []byte("x")}}, 0); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewVerifier(testAud, []Key{testKey, testKey}, 0); err == nil {
		t.Error("duplicate kid accepted")
	}
}

func TestSignValidates(t *testing.T) {
	if _, err := Sign(Key{ID: "k", Secret: []byte("short")}, testClaim); err == nil {
		t.Error("short key accepted")
	}
	bad := testClaim
	bad.ExpiresAt = bad.NotBefore
	if _, err := Sign(testKey, bad); err == nil {
		t.Error("exp == nbf accepted")
	}
}

// TestSignerAllocatesOnlyTheToken: the issuer signs a session per exchange,
// so a Signer must reuse its HMAC state and build the token on the stack;
// AppendSign, which the issuer uses, allocates nothing.
func TestSignerAllocatesOnlyTheToken(t *testing.T) {
	s, err := NewSigner(Key{ID: "app-1", Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{Type: TypeApp, Audience: strings.Repeat("ab", 32), Issuer: "https://issuer.test", IssuedAt: 1900000000,
		NotBefore: 1900000000, ExpiresAt: 1900003600, CommonName: "0123456789abcdef0123456789abcdef.access",
		ID: "0123456789abcdef0123456789abcdef", TokenID: "tok-1"}
	want, err := Sign(Key{ID: "app-1", Secret: bytes.Repeat([]byte{7}, 32)}, c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // a reused HMAC state signs as a fresh one
		if got, err := s.Sign(c); err != nil || got != want {
			t.Fatalf("Signer.Sign %q %v, want Sign's %q", got, err, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.Sign(c) }); n > 1 && !race.Enabled {
		t.Fatalf("Signer.Sign: %.0f allocations, want 1 (the token)", n)
	}
	dst := make([]byte, 0, 1024)
	if got, err := s.AppendSign(append(dst, "prefix:"...), c); err != nil || string(got) != "prefix:"+want {
		t.Fatalf("AppendSign %q %v", got, err)
	}
	if n := testing.AllocsPerRun(100, func() { s.AppendSign(dst, c) }); n != 0 && !race.Enabled {
		t.Fatalf("Signer.AppendSign with room: %.0f allocations, want none", n)
	}
}
