//go:build svcauth_plain_indexbyte

package rawmem

import "strings"

// IndexByte is strings.IndexByte (the ordinary-Go form: see doc.go).
func IndexByte(s string, c byte) int { return strings.IndexByte(s, c) }
