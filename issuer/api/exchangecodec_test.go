package api

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

// FuzzParseExchangeRequest: whatever the fast parser accepts, encoding/json
// (as decode runs it) accepts too, with the same result.
func FuzzParseExchangeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"client_id":"0123456789abcdef0123456789abcdef.access","client_secret":"svcauth_cs_x","aud":"ab","source_ip":"1.2.3.4:5","request_id":"r"}`,
		`{}`, ` {"aud":"x"} `, "{\"aud\":\"x\"}\n", `{"aud":"x","aud":"y"}`, `{"AUD":"x"}`, `{"aud":"\u0041"}`, `{"aud":"\\"}`,
		`{"aud":null}`, `{"aud":1}`, `{"other":"x"}`, `[]`, `"x"`, `{"aud":"x"}{}`, `{"aud":"x"`, "{\"aud\":\"\xff\"}",
		"{\"aud\":\"a\tb\"}", `{"aud":"é"}`, ``, `null`,
	} {
		f.Add([]byte(seed))
	}
	s := &Server{maxBody: DefaultMaxBodyBytes}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := parseExchangeRequest(b)
		if !ok {
			return
		}
		var std apiv1.ExchangeRequest
		if err := s.decodeBytes(b, &std); err != nil {
			t.Fatalf("fast parser accepted %q, encoding/json refuses it: %v", b, err)
		}
		if fast != std {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, std)
		}
	})
}

func TestParseExchangeRequestFallsBack(t *testing.T) {
	for _, in := range []string{`{"aud":"x","aud":"y"}`, `{"AUD":"x"}`, `{"aud":"\u0041"}`, `{"aud":null}`, `{"other":"x"}`, `{"aud":"é"}`, `[]`} {
		if _, ok := parseExchangeRequest([]byte(in)); ok {
			t.Errorf("fast parser took %s", in)
		}
	}
	want := apiv1.ExchangeRequest{ClientID: "c", ClientSecret: "s", AUD: "a", SourceIP: "i", RequestID: "r"}
	got, ok := parseExchangeRequest([]byte(` {"client_id":"c", "client_secret":"s","aud":"a","source_ip":"i","request_id":"r"}` + "\n"))
	if !ok || got != want {
		t.Fatalf("%+v %v", got, ok)
	}
}

func TestExchangeAnswerIsWriteJSON(t *testing.T) {
	sg, err := session.NewSigner(session.Key{ID: "app-1", Secret: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	c := session.Claims{Type: session.TypeApp, Audience: strings.Repeat("ab", 32), Issuer: `https://issuer.test/"quoted"`,
		IssuedAt: 1900000000, NotBefore: 1900000000, ExpiresAt: 1900003600, CommonName: "0123456789abcdef0123456789abcdef.access",
		ID: "0123456789abcdef0123456789abcdef", TokenID: "tok-1"}
	answer, err := appendExchangeAnswer(nil, sg, c)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := sg.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	std := httptest.NewRecorder()
	writeJSON(std, 200, apiv1.ExchangeResponse{JWT: jwt, ExpiresAt: c.ExpiresAt})
	if string(answer) != std.Body.String() {
		t.Fatalf("answer %q, writeJSON %q", answer, std.Body.String())
	}
	for _, kv := range jsonHeaders {
		if got := std.Header().Values(kv.name); len(got) != 1 || got[0] != kv.value[0] {
			t.Fatalf("%s: writeJSON %q, exchange answers %q", kv.name, got, kv.value)
		}
	}
	if len(std.Header()) != len(jsonHeaders) {
		t.Fatalf("writeJSON sets %v, the exchange answer %d headers", std.Header(), len(jsonHeaders))
	}
}

func TestNormalizeSourceIP(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "203.0.113.9:4431": "203.0.113.9", "2001:DB8::1": "2001:db8::1",
		"[2001:db8::1]:443": "2001:db8::1", "::ffff:10.0.0.1": "::ffff:10.0.0.1", "fe80::1%eth0": "fe80::1%eth0",
		"010.0.0.1": "", "1.2.3.4:": "", "[1.2.3.4]:80": "", "not an ip": "", "": "",
	} {
		if got := normalizeSourceIP(in); got != want {
			t.Errorf("normalizeSourceIP(%q) = %q, want %q", in, got, want)
		}
	}
}
