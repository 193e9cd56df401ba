package plugin

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
)

// The Logic benchmarks time the auth logic of a cached request alone, with
// no host and no host calls, so that they also run inside wasm (make bench
// runs them natively and as a wasip1 test binary on wazero, through
// filter/internal/wasirun): the header scan, and the cache lookups with the
// checks a hit passes. Together with BaselineSameIO they say where a cached
// request's time goes.

func logicConfig(b *testing.B) *Config {
	c, err := ParseConfig([]byte(exchangeConfig))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func logicJWT(b *testing.B) (string, session.Claims) {
	now := time.Now()
	claims := session.Claims{Type: session.TypeApp, Audience: testAud, Issuer: "https://issuer.test",
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(),
		CommonName: testClientID, ID: "jti-1", TokenID: "tok-1"}
	tok, err := session.Sign(testKey, claims)
	if err != nil {
		b.Fatal(err)
	}
	return tok, claims
}

// logicRevocation is a revocation state with entries for other tokens, so
// that every check a hit passes is a real map lookup.
func logicRevocation() *revocation {
	return &revocation{
		gen:       1, // as installed by applyState
		notBefore: time.Now().Add(-time.Hour).Unix(),
		revoked:   map[string]int64{"tok-9": time.Now().Unix()},
		disabled:  map[string]struct{}{"tok-8": {}},
		graceEnds: map[string]int64{"tok-7": time.Now().Unix()},
	}
}

func logicHeaders(extra ...[2]string) [][2]string {
	return append([][2]string{
		{":method", "GET"}, {":path", "/api/v1/items?page=2"}, {":authority", "app.test"}, {":scheme", "https"},
		{"user-agent", "ci-runner/1.0"}, {"accept", "application/json"},
		{"x-request-id", "5f0c9a8e-2b1d-4c3e-9f7a-1b2c3d4e5f60"}, {"x-forwarded-for", "198.51.100.23"},
	}, extra...)
}

// (a) without the host: scan the headers, find the cookie's session in the
// session cache, check expiry and revocation.
func BenchmarkLogicCachedCookie(b *testing.B) {
	c := logicConfig(b)
	tok, claims := logicJWT(b)
	buf := serializePairs(logicHeaders([2]string{"cookie", "_ga=GA1.1.1; CF_Authorization=" + tok + "; theme=dark"}))
	sessions := newSessionCache(c.SessionCacheSize)
	sessions.put(tok, sessionInfoOf(claims))
	rev := logicRevocation()
	now := time.Now().Unix()
	for b.Loop() {
		var r requestHeaders
		r.scanSerialized(buf, c)
		s, ok := sessions.get(r.candidates[0])
		if !ok || r.nCandidates != 1 || !s.usable(now, c.ClockSkewSeconds) || !rev.admits(s) {
			b.Fatal("not a cached, usable session")
		}
	}
}

// (c) without the host: scan the headers, hash the pair, find it in the
// credential cache, check expiry, revocation and secret rotation.
func BenchmarkLogicCachedHeaderPair(b *testing.B) {
	c := logicConfig(b)
	tok, claims := logicJWT(b)
	buf := serializePairs(logicHeaders([2]string{"cf-access-client-id", testClientID}, [2]string{"cf-access-client-secret", testSecret}))
	hasher := deriveCredHasher(c)
	creds := newCredentialCache(c.CredentialCacheSize)
	info := sessionInfoOf(claims)
	creds.put(hasher.key(testClientID, testSecret), &credEntry{jwt: tok, kid: testKey.ID, info: info})
	rev := logicRevocation()
	now := time.Now().Unix()
	for b.Loop() {
		var r requestHeaders
		r.scanSerialized(buf, c)
		id, secret, reason := r.credentials()
		if reason != "" {
			b.Fatal(reason)
		}
		e, ok := creds.get(hasher.key(id, secret))
		if !ok || !e.info.usable(now, c.ClockSkewSeconds) || !rev.admits(&e.info) || rev.retiresCredential(&e.info, now) {
			b.Fatal("not a cached, usable credential")
		}
	}
}

// The header scan alone, for headers of each kind of request.
func BenchmarkLogicScan(b *testing.B) {
	c := logicConfig(b)
	tok, _ := logicJWT(b)
	for _, tc := range []struct {
		name    string
		headers [][2]string
	}{
		{"cookie", logicHeaders([2]string{"cookie", "_ga=GA1.1.1; CF_Authorization=" + tok + "; theme=dark"})},
		{"pair", logicHeaders([2]string{"cf-access-client-id", testClientID}, [2]string{"cf-access-client-secret", testSecret})},
		{"headers=" + strconv.Itoa(30), logicHeaders(extraHeaders(22)...)},
	} {
		buf := serializePairs(tc.headers)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var r requestHeaders
				r.scanSerialized(buf, c)
			}
		})
	}
}

// The cache lookups of a hit alone, in caches holding other entries.
func BenchmarkLogicCacheGet(b *testing.B) {
	c := logicConfig(b)
	tok, claims := logicJWT(b)
	sessions := newSessionCache(c.SessionCacheSize)
	hasher := deriveCredHasher(c)
	creds := newCredentialCache(c.CredentialCacheSize)
	for i := range min(c.SessionCacheSize, c.CredentialCacheSize) - 1 {
		other := strconv.Itoa(i)
		sessions.put(tok[:len(tok)-len(other)]+other, sessionInfoOf(claims))
		creds.put(hasher.key(testClientID, testSecret+other), &credEntry{jwt: tok})
	}
	sessions.put(tok, sessionInfoOf(claims))
	key := hasher.key(testClientID, testSecret)
	creds.put(key, &credEntry{jwt: tok})
	probe := string([]byte(tok)) // equal text, another string
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, ok := sessions.get(probe); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("credential", func(b *testing.B) {
		for b.Loop() {
			if _, ok := creds.get(key); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// extraHeaders are n headers of the kind a proxy adds, none of them the
// filter's: what the scan must rule out.
func extraHeaders(n int) [][2]string {
	h := make([][2]string, n)
	for i := range h {
		h[i] = [2]string{"x-envoy-extra-" + strconv.Itoa(i), "value-" + strconv.Itoa(i)}
	}
	return h
}

// The search for the end of a session JWT in a Cookie header: indexByte
// against the runtime's strings.IndexByte.
func BenchmarkLogicIndexByte(b *testing.B) {
	tok, _ := logicJWT(b)
	value := tok + "; theme=dark"
	for _, tc := range []struct {
		name string
		f    func(string, byte) int
	}{{"words", indexByte}, {"runtime", strings.IndexByte}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if tc.f(value, ';') != len(tok) {
					b.Fatal("wrong index")
				}
			}
		})
	}
}
