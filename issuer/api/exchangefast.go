package api

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

// The exchange is the one endpoint called at high rates, so its body is
// parsed and its answer written without reflection. Both are exactly what
// decode and writeJSON do: the fast parser only accepts bodies that
// encoding/json reads the same way and hands everything else (errors
// included) to decode.

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// parseExchangeBody parses a body of at most s.maxBody bytes: the usual one
// without reflection, anything else (errors included) as decode would.
func (s *Server) parseExchangeBody(b []byte) (apiv1.ExchangeRequest, error) {
	if req, ok := parseExchangeRequest(b); ok {
		return req, nil
	}
	// Declared here: decodeFrom makes it escape to the heap, which the usual
	// body, parsed above, should not pay for.
	var req apiv1.ExchangeRequest
	err := s.decodeFrom(bytes.NewReader(b), &req)
	return req, err
}

// parseExchangeRequest parses the usual exchange body: one JSON object
// whose members are some of the request's fields, each once, with string
// values of printable ASCII without escapes. It reports false for anything
// else.
func parseExchangeRequest(b []byte) (apiv1.ExchangeRequest, bool) {
	var req apiv1.ExchangeRequest
	if !gjson.ValidBytes(b) {
		return req, false
	}
	root := gjson.ParseBytes(b)
	if !root.IsObject() {
		return req, false
	}
	var seen uint8
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		var (
			bit uint8
			dst *string
		)
		switch k.Raw {
		case `"client_id"`:
			bit, dst = 1, &req.ClientID
		case `"client_secret"`:
			bit, dst = 2, &req.ClientSecret
		case `"aud"`:
			bit, dst = 4, &req.AUD
		case `"source_ip"`:
			bit, dst = 8, &req.SourceIP
		case `"request_id"`:
			bit, dst = 16, &req.RequestID
		}
		if bit == 0 || seen&bit != 0 || v.Type != gjson.String || !plainString(v.Raw) {
			ok = false
			return false
		}
		seen |= bit
		*dst = v.Str
		return true
	})
	return req, ok
}

// plainString reports whether raw is a JSON string literal of printable
// ASCII without escapes (so that its value is its text).
func plainString(raw string) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for i := 1; i < len(raw)-1; i++ {
		if c := raw[i]; c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

// exchangeHeaders are the headers of every exchange answer (writeJSON's),
// shared: a header map may hold them without a copy per answer.
var exchangeHeaders = [...]struct {
	name  string
	value []string
}{
	{"Content-Type", []string{"application/json"}},
	{"Cache-Control", []string{"no-store"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
}

// appendExchangeAnswer appends the answer of an exchange that issued the
// session c, exactly as writeJSON writes apiv1.ExchangeResponse (the tests
// compare them), with the token signed by sg in place: no string of it. A
// signed token holds only base64url characters and dots, which JSON carries
// as they are.
func appendExchangeAnswer(b []byte, sg *session.Signer, c session.Claims) ([]byte, error) {
	b = append(b, `{"jwt":"`...)
	b, err := sg.AppendSign(b, c)
	if err != nil {
		return nil, err
	}
	b = append(b, `","expires_at":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	return append(b, "}\n"...), nil
}
