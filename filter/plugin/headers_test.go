package plugin

import (
	"encoding/binary"
	"strings"
	"testing"
)

// serializePairs writes header pairs as a proxy-wasm host hands them over.
func serializePairs(hs [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(hs)))
	for _, kv := range hs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range hs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}

// FuzzScanSerialized checks the in-place header reader of the module
// (scanSerialized) against the SDK-list reader the native build uses (scan):
// for a well-formed buffer both see the same request, and any buffer at all
// neither panics nor reads past its end. Seeds run in `go test`.
func FuzzScanSerialized(f *testing.F) {
	// Every kind of header indexed: exempt prefixes and CORS read the path,
	// the method and the preflight headers too.
	cfg, err := ParseConfig([]byte(testConfig("json_credentials_header", "x-svcauth-credentials",
		"exempt_path_prefixes", []string{"/health"}, "allow_cors_preflight", true)))
	if err != nil {
		f.Fatal(err)
	}
	request := func(extra ...[2]string) [][2]string {
		return append([][2]string{{":method", "GET"}, {":path", "/api?x=1"}, {":authority", "app.example"}, {"x-request-id", "r-1"}}, extra...)
	}
	for _, hs := range [][][2]string{
		nil,
		request([2]string{"cookie", "a=1; CF_Authorization=tok; b=2"}),
		request([2]string{"cf-access-client-id", testClientID}, [2]string{"cf-access-client-secret", testSecret}, [2]string{"cf-access-client-secret", "second"}),
		request([2]string{"x-svcauth-credentials", `{"client_id":"x"}`}, [2]string{"cf-access-jwt-assertion", "forged"}, [2]string{"empty", ""}),
		{{"", ""}, {"origin", "https://a.example"}, {"access-control-request-method", "GET"}},
	} {
		// A well-formed buffer must be accepted and read as the list is: the
		// fuzz body below only compares what was accepted.
		var got, want requestHeaders
		if !got.scanSerialized(serializePairs(hs), cfg) {
			f.Fatalf("well-formed headers %q refused", hs)
		}
		if want.scan(hs, cfg); got != want {
			f.Fatalf("in place: %+v\nfrom pairs: %+v", got, want)
		}
		f.Add(serializePairs(hs))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b'})               // value runs off the end
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 'x', 'b', 0})          // no NUL after the key
	f.Add([]byte{255, 255, 255, 255, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b', 0})    // count larger than the buffer
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 'a', 0, 0}) // sizes that overflow 32 bits
	f.Fuzz(func(t *testing.T, b []byte) {
		var got requestHeaders
		ok := got.scanSerialized(guarded(t, b), cfg) // a read past the end crashes
		if !ok {
			return
		}
		hs := parsePairsForTest(t, b)
		var want requestHeaders
		want.scan(hs, cfg)
		if got != want {
			t.Fatalf("in place: %+v\nfrom pairs: %+v", got, want)
		}
		if len(b) > 0 && string(serializePairs(hs)) != string(b[:len(serializePairs(hs))]) {
			t.Fatal("accepted buffer does not re-serialize to itself")
		}
	})
}

// parsePairsForTest is an independent, copying reader of the same format
// (the SDK's own reader panics on malformed input; this one fails the test).
func parsePairsForTest(t *testing.T, b []byte) [][2]string {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	data := b[4+8*n:]
	hs := make([][2]string, n)
	for i := range hs {
		for j := range 2 {
			l := int(binary.LittleEndian.Uint32(b[4+8*i+4*j:]))
			if l >= len(data) || data[l] != 0 {
				t.Fatalf("scanSerialized accepted a malformed buffer %x", b)
			}
			hs[i][j] = string(data[:l])
			data = data[l+1:]
		}
	}
	return hs
}

// TestHeaderIndex: every name the filter reads is found, with its kind,
// including configured names longer than the length table; names of the
// same length are told apart; everything else is not found. The path, the
// method and the CORS headers are read only when the configuration needs
// them, and x-request-id never (an exchange reads it from the host).
func TestHeaderIndex(t *testing.T) {
	long := "x-very-long-credential-header-name-for-the-client-secret-of-this-app"
	kv := []any{"client_secret_header", long, "json_credentials_header", "x-creds", "token_header", "x-tok"}
	c, err := ParseConfig([]byte(testConfig(append(kv, "exempt_path_prefixes", []string{"/health"}, "allow_cors_preflight", true)...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(long) <= maxIndexedNameLen {
		t.Fatalf("test name of %d bytes should exceed the table", len(long))
	}
	for name, want := range map[string]headerKind{
		":path": hdrPath, ":method": hdrMethod, "origin": hdrOrigin, "access-control-request-method": hdrACRM,
		"cookie": hdrCookie, "x-tok": hdrToken, "cf-access-client-id": hdrClientID,
		long: hdrSecret, "cf-access-jwt-assertion": hdrAssertion, "x-creds": hdrJSON,
	} {
		if got, ok := c.headers.kind(name); !ok || got != want {
			t.Errorf("kind(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "x-tak", "cookies", ":authority", "user-agent", long + "x", long[:len(long)-1] + "y", "cf-access-client-secret", "x-request-id"} {
		if k, ok := c.headers.kind(name); ok {
			t.Errorf("kind(%q) = %v; want none", name, k)
		}
	}

	// The default token header (15 bytes) against names that differ from it
	// in one byte, at each end of its two words.
	defaults, err := ParseConfig([]byte(testConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := defaults.headers.kind("cf-access-token"); !ok || k != hdrToken {
		t.Errorf("kind(cf-access-token) = %v, %v", k, ok)
	}
	for _, name := range []string{"cf-access-tokeN", "cf-access-toke~", "df-access-token", "cf-accest-token", "cf-access-uoken"} {
		if k, ok := defaults.headers.kind(name); ok {
			t.Errorf("kind(%q) = %v; want none", name, k)
		}
	}

	plain, err := ParseConfig([]byte(testConfig(kv...)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{":path", ":method", "origin", "access-control-request-method", "x-request-id"} {
		if k, ok := plain.headers.kind(name); ok {
			t.Errorf("without exempt prefixes or CORS: kind(%q) = %v; want none", name, k)
		}
	}
	if k, ok := plain.headers.kind("cookie"); !ok || k != hdrCookie {
		t.Errorf("without exempt prefixes or CORS: kind(cookie) = %v, %v", k, ok)
	}
}

// FuzzHeaderKind holds the index's word comparison (nameWords) to plain
// string equality with each name the filter reads: every length up to and
// past 16 bytes, names that differ in one byte anywhere, and names longer
// than the length table.
func FuzzHeaderKind(f *testing.F) {
	long := "x-very-long-credential-header-name-for-the-client-secret-of-this-app"
	// Names of every length class nameWords treats apart: under 4 bytes, 4-7,
	// 8-15, 16-24 (three words, overlapping below 24), over 24 (text compared
	// too).
	c, err := ParseConfig([]byte(testConfig("client_secret_header", long, "json_credentials_header", "x-creds-nine",
		"token_header", "x-t", "client_id_header", "x-client-id-0016", "assertion_header", "x-assertion-header-0020",
		"exempt_path_prefixes", []string{"/health"}, "allow_cors_preflight", true)))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range c.headers.names {
		f.Add(name)
		for i := range len(name) {
			f.Add(name[:i] + "#" + name[i+1:])
			f.Add(name[:i] + string(name[i]^1) + name[i+1:]) // one bit away
		}
		f.Add(name + "x")
		if name != "" {
			f.Add(name[:len(name)-1])
		}
	}
	f.Fuzz(func(t *testing.T, name string) {
		probe := guardedString(t, name) // a read past the end crashes
		want, found := headerKind(0), false
		for k, n := range c.headers.names {
			if n != "" && n == name {
				want, found = headerKind(k), true
			}
		}
		if got, ok := c.headers.kind(probe); ok != found || got != want {
			t.Fatalf("kind(%q) = %v, %v; want %v, %v", name, got, ok, want, found)
		}
	})
}

// FuzzAddCookies holds addCookies to a plain reading of the Cookie header:
// split at ';', the name is the trimmed text before the pair's first '=',
// the value the trimmed rest, without surrounding quotes.
func FuzzAddCookies(f *testing.F) {
	for _, h := range []string{
		"", "CF_Authorization=tok", "a=1; CF_Authorization=tok; b=2", " CF_Authorization = tok ;",
		"CF_Authorization=\"tok\"", "CF_Authorization=", "CF_Authorization", "CF_Authorizationx=tok",
		"xCF_Authorization=tok", "CF_Authorization=a=b", "CF_Authorization=1;CF_Authorization=2;CF_Authorization=3;CF_Authorization=4;CF_Authorization=5",
		"\tCF_Authorization\t=\ttok\t", "CF_Authorization;=tok", "a=\"x;CF_Authorization=tok\"",
	} {
		f.Add(h)
	}
	const name = "CF_Authorization"
	f.Fuzz(func(t *testing.T, header string) {
		var want requestHeaders
		for _, pair := range strings.Split(header, ";") {
			k, v, ok := strings.Cut(pair, "=")
			if !ok || strings.Trim(k, " \t") != name { // not trimOWS: the reference shares no code with addCookies
				continue
			}
			v = strings.Trim(v, " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			want.addCandidate(v)
		}
		var got requestHeaders
		got.addCookies(guardedString(t, header), name) // a read past the end crashes
		if got != want {
			t.Fatalf("addCookies(%q) = %q (%d), want %q (%d)", header, got.candidates, got.nCandidates, want.candidates, want.nCandidates)
		}
	})
}
