package rawmem

import "unsafe"

// String is b as a string, without a copy: b must not change while the
// string is in use. The module itself needs it only in the ordinary-Go form
// of the header scan (scan_plain.go: the scan proper makes its strings in
// place); the fuzz tests view their guarded inputs with it
// (filter/internal/guardpage).
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Bytes is s as a byte slice, without a copy, for functions that take bytes
// and only read them: the credential cache's SipHash of a client secret.
// The slice must never be written. It is kept although a paired benchmark
// found it no faster: []byte(secret) costs a heap allocation per cached
// header pair and leaves a copy of the secret in the module's heap until the
// memory is reused, which the filter avoids everywhere else.
func Bytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
