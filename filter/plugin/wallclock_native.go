//go:build !wasip1

package plugin

import "time"

// wallMS returns the wall clock in Unix milliseconds (the module reads WASI's
// clock directly: wallclock_wasm.go).
func wallMS() int64 { return time.Now().UnixMilli() }
