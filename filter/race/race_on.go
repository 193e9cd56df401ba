//go:build race

// Package race says whether the race detector is on. Allocation counts mean
// nothing then (sync.Pool drops items at random, escape analysis differs),
// so the tests of the filter and the issuer that count allocations skip that
// check. It lives under filter/, which holds what the two share.
package race

// Enabled is true in a -race build.
const Enabled = true
