package headers

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/internal/guardpage"
	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

const (
	testClientID = "0123456789abcdef0123456789abcdef.access"
	testSecret   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// defaultNames are the default configuration's names.
func defaultNames() Names {
	return Names{Token: "cf-access-token", ClientID: "cf-access-client-id", ClientSecret: "cf-access-client-secret",
		Assertion: "cf-access-jwt-assertion", CookieName: "CF_Authorization"}
}

// everyName indexes every kind of header: exempt prefixes and CORS read the
// path, the method and the preflight headers too.
func everyName() *Index {
	n := defaultNames()
	n.JSONCredentials, n.ReadPath, n.ReadCORS = "x-svcauth-credentials", true, true
	x := NewIndex(n)
	return &x
}

// FuzzScanSerialized checks the in-place header reader of the module
// (ScanSerialized) against the list reader the native build uses (Scan):
// for a well-formed buffer both see the same request, and any buffer at all
// neither panics nor reads past its end. Seeds run in `go test`.
func FuzzScanSerialized(f *testing.F) {
	x := everyName()
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
		var got, want Request
		if !got.ScanSerialized(SerializePairs(hs), x) {
			f.Fatalf("well-formed headers %q refused", hs)
		}
		if want.Scan(hs, x); got != want {
			f.Fatalf("in place: %+v\nfrom pairs: %+v", got, want)
		}
		f.Add(SerializePairs(hs))
	}
	// The malformed buffers of rawmem's FuzzScanHeaderMap, repeated: there
	// they meet the scan alone, here the scan behind Request.
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b'})               // value runs off the end
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 'x', 'b', 0})          // no NUL after the key
	f.Add([]byte{255, 255, 255, 255, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b', 0})    // count larger than the buffer
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 'a', 0, 0}) // sizes that overflow 32 bits
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Request
		ok := got.ScanSerialized(guardpage.Bytes(t, b), x) // a read past the end crashes
		if !ok {
			return
		}
		hs := parsePairsForTest(t, b)
		var want Request
		want.Scan(hs, x)
		if got != want {
			t.Fatalf("in place: %+v\nfrom pairs: %+v", got, want)
		}
		if len(b) > 0 && string(SerializePairs(hs)) != string(b[:len(SerializePairs(hs))]) {
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
				t.Fatalf("ScanSerialized accepted a malformed buffer %x", b)
			}
			hs[i][j] = string(data[:l])
			data = data[l+1:]
		}
	}
	return hs
}

// TestIndex: every name the filter reads is found, with its kind, including
// configured names longer than the length table; names of the same length
// are told apart; everything else is not found. The path, the method and the
// CORS headers are read only when the configuration needs them, and
// x-request-id never (an exchange reads it from the host).
func TestIndex(t *testing.T) {
	long := "x-very-long-credential-header-name-for-the-client-secret-of-this-app"
	custom := defaultNames()
	custom.ClientSecret, custom.JSONCredentials, custom.Token = long, "x-creds", "x-tok"
	all := custom
	all.ReadPath, all.ReadCORS = true, true
	x := NewIndex(all)
	if len(long) <= rawmem.MaxFilteredNameLen {
		t.Fatalf("test name of %d bytes should exceed the table", len(long))
	}
	for name, want := range map[string]Kind{
		":path": Path, ":method": Method, "origin": Origin, "access-control-request-method": ACRM,
		"cookie": Cookie, "x-tok": Token, "cf-access-client-id": ClientID,
		long: Secret, "cf-access-jwt-assertion": Assertion, "x-creds": JSON,
	} {
		if got, ok := x.Kind(name); !ok || got != want {
			t.Errorf("Kind(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "x-tak", "cookies", ":authority", "user-agent", long + "x", long[:len(long)-1] + "y", "cf-access-client-secret", "x-request-id"} {
		if k, ok := x.Kind(name); ok {
			t.Errorf("Kind(%q) = %v; want none", name, k)
		}
	}

	// The default token header (15 bytes) against names that differ from it
	// in one byte, at each end of its two words.
	defaults := NewIndex(defaultNames())
	if k, ok := defaults.Kind("cf-access-token"); !ok || k != Token {
		t.Errorf("Kind(cf-access-token) = %v, %v", k, ok)
	}
	for _, name := range []string{"cf-access-tokeN", "cf-access-toke~", "df-access-token", "cf-accest-token", "cf-access-uoken"} {
		if k, ok := defaults.Kind(name); ok {
			t.Errorf("Kind(%q) = %v; want none", name, k)
		}
	}

	plain := NewIndex(custom)
	for _, name := range []string{":path", ":method", "origin", "access-control-request-method", "x-request-id"} {
		if k, ok := plain.Kind(name); ok {
			t.Errorf("without exempt prefixes or CORS: Kind(%q) = %v; want none", name, k)
		}
	}
	if k, ok := plain.Kind("cookie"); !ok || k != Cookie {
		t.Errorf("without exempt prefixes or CORS: Kind(cookie) = %v, %v", k, ok)
	}
}

// FuzzKind holds the index's word comparison (rawmem.NameWords) to plain
// string equality with each name the filter reads: every length up to and
// past 16 bytes, names that differ in one byte anywhere, and names longer
// than the length table.
func FuzzKind(f *testing.F) {
	long := "x-very-long-credential-header-name-for-the-client-secret-of-this-app"
	// Names of every length class NameWords treats apart: under 4 bytes, 4-7,
	// 8-15, 16-24 (three words, overlapping below 24), over 24 (text compared
	// too).
	x := NewIndex(Names{ClientSecret: long, JSONCredentials: "x-creds-nine", Token: "x-t",
		ClientID: "x-client-id-0016", Assertion: "x-assertion-header-0020", CookieName: "CF_Authorization",
		ReadPath: true, ReadCORS: true})
	for _, name := range x.names {
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
		probe := guardpage.String(t, name) // a read past the end crashes
		want, found := Kind(0), false
		for k, n := range x.names {
			if n != "" && n == name {
				want, found = Kind(k), true
			}
		}
		if got, ok := x.Kind(probe); ok != found || got != want {
			t.Fatalf("Kind(%q) = %v, %v; want %v, %v", name, got, ok, want, found)
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
		var want Request
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
		var got Request
		got.addCookies(guardpage.String(t, header), name) // a read past the end crashes
		if got != want {
			t.Fatalf("addCookies(%q) = %q, want %q", header, got.Sessions(), want.Sessions())
		}
	})
}
