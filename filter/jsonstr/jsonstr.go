// Package jsonstr appends JSON string literals without encoding/json, for the
// few documents the filter and the session signer write by hand (a session
// token's claims, the exchange callout's body): encoding/json would pull
// reflection into the wasm module for no gain.
package jsonstr

// Append appends s to b as a JSON string literal. svcauth writes ASCII ids,
// secrets, addresses and URLs; every byte JSON does not allow raw — quote,
// backslash, control characters — and every non-ASCII byte is escaped, so
// the document stays valid JSON (and 7-bit) whatever s holds.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
