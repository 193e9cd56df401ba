package session

import (
	"strconv"
	"testing"
)

// The verification alone, HS256 against RS256 (RSA-2048, e = 65537), on a
// token never verified before: what the filter pays on first sight of a
// session (its cache then serves it). Natively:
//
//	go test -run '^$' -bench Verify ./filter/session
//
// and inside Go-built wasm (make bench runs both):
//
//	GOOS=wasip1 GOARCH=wasm go test -exec build/wasirun -run '^$' -bench Verify ./filter/session
func BenchmarkVerifyHS256(b *testing.B) {
	v, _ := NewVerifier(testAud, []Key{testKey}, 30)
	benchVerify(b, v, func(c Claims) string { return mustSign(b, testKey, c) })
}

func BenchmarkVerifyRS256(b *testing.B) {
	s, k := rsaKey(b, 0, "r1")
	v, _ := NewVerifier(testAud, []Key{k}, 30)
	benchVerify(b, v, func(c Claims) string { return mustSignWith(b, s, c) })
}

func benchVerify(b *testing.B, v *Verifier, sign func(Claims) string) {
	var tokens [64]string
	for i := range tokens {
		c := testClaim
		c.ID = "jti-" + strconv.Itoa(i)
		tokens[i] = sign(c)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(tokens[i%len(tokens)], testNow); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The issuer signs one session per exchange: RS256 signing (an RSA-2048
// private-key operation) is what an RS256 application's exchange costs
// beyond an HS256 one.
func BenchmarkSignHS256(b *testing.B) {
	s, _ := NewSigner(testKey)
	benchSign(b, s)
}

func BenchmarkSignRS256(b *testing.B) {
	s, _ := rsaKey(b, 0, "r1")
	benchSign(b, s)
}

func benchSign(b *testing.B, s *Signer) {
	var dst [MaxTokenLength]byte
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AppendSign(dst[:0], testClaim); err != nil {
			b.Fatal(err)
		}
	}
}
