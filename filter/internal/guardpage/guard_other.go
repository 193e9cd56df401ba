//go:build !linux

// Package guardpage: where the tests cannot map an unreadable page, a plain
// copy (guard_linux.go has the point of it).
package guardpage

import "testing"

// Bytes is a copy of b.
func Bytes(_ testing.TB, b []byte) []byte { return append([]byte(nil), b...) }

// String is a copy of s.
func String(_ testing.TB, s string) string { return string(append([]byte(nil), s...)) }
