package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

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
		if err := s.decodeFrom(bytes.NewReader(b), &std); err != nil {
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

func TestWriteExchangeResponseIsWriteJSON(t *testing.T) {
	for _, resp := range []apiv1.ExchangeResponse{
		{JWT: "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2lnbmF0dXJlLV8", ExpiresAt: 1900000000},
		{JWT: `not"a<jwt>`, ExpiresAt: -1},
	} {
		fast, std := httptest.NewRecorder(), httptest.NewRecorder()
		writeExchangeResponse(fast, resp)
		writeJSON(std, 200, resp)
		if fast.Code != std.Code || fast.Body.String() != std.Body.String() {
			t.Fatalf("fast %d %q, writeJSON %d %q", fast.Code, fast.Body.String(), std.Code, std.Body.String())
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"} {
			if fast.Header().Get(h) != std.Header().Get(h) {
				t.Fatalf("%s: %q vs %q", h, fast.Header().Get(h), std.Header().Get(h))
			}
		}
		var back apiv1.ExchangeResponse
		if err := json.Unmarshal(fast.Body.Bytes(), &back); err != nil || back != resp {
			t.Fatalf("round trip %+v %v", back, err)
		}
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

func TestJWTChars(t *testing.T) {
	if !jwtChars("eyJhbGci-_.AZaz09") || jwtChars(`a"b`) || jwtChars("a b") || jwtChars("a/b") || jwtChars("é") {
		t.Fatal("jwtChars: wrong answer")
	}
}
