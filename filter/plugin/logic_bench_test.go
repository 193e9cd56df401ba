package plugin

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/cache"
	"github.com/svcauth/svcauth/filter/headers"
	"github.com/svcauth/svcauth/filter/internal/rawmem"
	"github.com/svcauth/svcauth/filter/revocation"
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
// that every check a hit passes is a real map lookup, installed as a sync
// installs it.
func logicRevocation(b *testing.B) *revocation.State {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	hourAgo := strconv.FormatInt(time.Now().Unix()-3600, 10)
	body := `{"etag":"e1","sessions_not_before":` + hourAgo +
		`,"revoked_tokens":[{"token_id":"tok-9","revoked_at":` + now + `}],"disabled_tokens":["tok-8"]` +
		`,"secret_grace_ends":[{"token_id":"tok-7","previous_secret_expires_at":` + now + `}]` +
		`,"keys":[{"kid":"` + testKey.ID + `","key":"` + b64(testKey.Secret) + `"}]}`
	st, err := revocation.ParseSync([]byte(body))
	if err != nil {
		b.Fatal(err)
	}
	return st.State.Install(revocation.None)
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
	buf := headers.SerializePairs(logicHeaders([2]string{"cookie", "_ga=GA1.1.1; CF_Authorization=" + tok + "; theme=dark"}))
	sessions := cache.NewSessions(c.SessionCacheSize)
	sessions.Put(tok, cache.SessionOf(claims))
	rev := logicRevocation(b)
	now := time.Now().Unix()
	for b.Loop() {
		var r headers.Request
		r.ScanSerialized(buf, &c.headers)
		tokens := r.Sessions()
		s, ok := sessions.Get(tokens[0])
		if !ok || len(tokens) != 1 || !s.Usable(now, c.ClockSkewSeconds) || !rev.Admits(s) {
			b.Fatal("not a cached, usable session")
		}
	}
}

// (c) without the host: scan the headers, hash the pair, find it in the
// credential cache, check expiry, revocation and secret rotation.
func BenchmarkLogicCachedHeaderPair(b *testing.B) {
	c := logicConfig(b)
	tok, claims := logicJWT(b)
	buf := headers.SerializePairs(logicHeaders([2]string{"cf-access-client-id", testClientID}, [2]string{"cf-access-client-secret", testSecret}))
	hasher := cache.NewHasher(make([]byte, cache.HashKeyLen), c.Audience)
	creds := cache.NewCredentials(c.CredentialCacheSize)
	info := cache.SessionOf(claims)
	creds.Put(hasher.Key(testClientID, testSecret), &cache.CredEntry{JWT: tok, KID: testKey.ID, Info: info})
	rev := logicRevocation(b)
	now := time.Now().Unix()
	for b.Loop() {
		var r headers.Request
		r.ScanSerialized(buf, &c.headers)
		id, secret, reason := r.Credentials()
		if reason != "" {
			b.Fatal(reason)
		}
		e, ok := creds.Get(hasher.Key(id, secret))
		if !ok || !e.Info.Usable(now, c.ClockSkewSeconds) || !rev.Admits(&e.Info) || rev.RetiresCredential(&e.Info, now) {
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
		buf := headers.SerializePairs(tc.headers)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var r headers.Request
				r.ScanSerialized(buf, &c.headers)
			}
		})
	}
}

// The cache lookups of a hit alone, in caches holding other entries.
func BenchmarkLogicCacheGet(b *testing.B) {
	c := logicConfig(b)
	tok, claims := logicJWT(b)
	sessions := cache.NewSessions(c.SessionCacheSize)
	hasher := cache.NewHasher(make([]byte, cache.HashKeyLen), c.Audience)
	creds := cache.NewCredentials(c.CredentialCacheSize)
	for i := range min(c.SessionCacheSize, c.CredentialCacheSize) - 1 {
		other := strconv.Itoa(i)
		sessions.Put(tok[:len(tok)-len(other)]+other, cache.SessionOf(claims))
		creds.Put(hasher.Key(testClientID, testSecret+other), &cache.CredEntry{JWT: tok})
	}
	sessions.Put(tok, cache.SessionOf(claims))
	key := hasher.Key(testClientID, testSecret)
	creds.Put(key, &cache.CredEntry{JWT: tok})
	probe := string([]byte(tok)) // equal text, another string
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, ok := sessions.Get(probe); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("credential", func(b *testing.B) {
		for b.Loop() {
			if _, ok := creds.Get(key); !ok {
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

// The search for the end of a session JWT in a Cookie header: rawmem.IndexByte
// against the runtime's strings.IndexByte.
func BenchmarkLogicIndexByte(b *testing.B) {
	tok, _ := logicJWT(b)
	value := tok + "; theme=dark"
	for _, tc := range []struct {
		name string
		f    func(string, byte) int
	}{{"words", rawmem.IndexByte}, {"runtime", strings.IndexByte}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if tc.f(value, ';') != len(tok) {
					b.Fatal("wrong index")
				}
			}
		})
	}
}
