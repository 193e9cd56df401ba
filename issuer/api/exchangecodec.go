package api

import (
	"strconv"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
)

// The exchange is the one endpoint called at high rates, so its body is
// parsed and its answer written without reflection. Both are exactly what
// decode and writeJSON do: the fast parser only accepts bodies that
// encoding/json reads the same way and hands everything else (errors
// included) to decode.

// parseExchangeBody parses a body of at most s.maxBody bytes: the usual one
// without reflection, anything else (errors included) as decode would.
func (s *Server) parseExchangeBody(b []byte) (apiv1.ExchangeRequest, error) {
	if req, ok := parseExchangeRequest(b); ok {
		return req, nil
	}
	// Declared here: decodeBytes makes it escape to the heap, which the usual
	// body, parsed above, should not pay for.
	var req apiv1.ExchangeRequest
	err := s.decodeBytes(b, &req)
	return req, err
}

// parseExchangeRequest parses the usual exchange body: one JSON object
// whose members are some of the request's fields, each once, with string
// values of printable ASCII without escapes. It reports false for anything
// else. One pass over one copy of the body (the fields are substrings of
// it): with gjson, validating, copying and walking the body took three
// passes and a sixth of the exchange's own CPU.
func parseExchangeRequest(b []byte) (apiv1.ExchangeRequest, bool) {
	var req apiv1.ExchangeRequest
	s := string(b)
	i := skipJSONSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return req, false
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return req, skipJSONSpace(s, i+1) == len(s)
	}
	var seen uint8
	for {
		key, next, ok := plainStringAt(s, i)
		if !ok {
			return req, false
		}
		if i = skipJSONSpace(s, next); i == len(s) || s[i] != ':' {
			return req, false
		}
		value, next, ok := plainStringAt(s, skipJSONSpace(s, i+1))
		if !ok {
			return req, false
		}
		var (
			bit uint8
			dst *string
		)
		switch key {
		case "client_id":
			bit, dst = 1, &req.ClientID
		case "client_secret":
			bit, dst = 2, &req.ClientSecret
		case "aud":
			bit, dst = 4, &req.AUD
		case "source_ip":
			bit, dst = 8, &req.SourceIP
		case "request_id":
			bit, dst = 16, &req.RequestID
		}
		if bit == 0 || seen&bit != 0 { // encoding/json decides: case-folded, unknown or repeated names
			return req, false
		}
		seen |= bit
		*dst = value
		switch i = skipJSONSpace(s, next); {
		case i < len(s) && s[i] == ',':
			i = skipJSONSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return req, skipJSONSpace(s, i+1) == len(s)
		default:
			return req, false
		}
	}
}

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON whitespace.
func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// plainStringAt reads the JSON string literal at s[i:] when it is printable
// ASCII without escapes (so that its value is its text): its value and the
// index after its closing quote.
func plainStringAt(s string, i int) (value string, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
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
