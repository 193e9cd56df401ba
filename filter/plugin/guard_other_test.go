//go:build !linux

package plugin

import "testing"

// guarded is a plain copy where the tests cannot map an unreadable page
// (guard_linux_test.go has the point of it).
func guarded(_ testing.TB, b []byte) []byte { return append([]byte(nil), b...) }

func guardedString(_ testing.TB, s string) string { return string(append([]byte(nil), s...)) }
