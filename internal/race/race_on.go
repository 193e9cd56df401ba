//go:build race

// Package race says whether the race detector is on: allocation counts are
// not meaningful then (sync.Pool drops items at random, escape analysis
// differs), so the tests that count allocations skip that check.
package race

// Enabled is true in a -race build.
const Enabled = true
