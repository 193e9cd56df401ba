package main

import (
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/svcauth/svcauth/filter/internal/rawmem"
)

// The ABI calls svcauth makes itself rather than through the SDK: the
// header map through rawmem.RequestHeaderMap (filter/internal/rawmem), and
// the clock (filter/plugin/wallclock_wasm.go), declared the same way.

//go:wasmimport wasi_snapshot_preview1 clock_time_get
//go:noescape
func clockTimeGet(id uint32, precision uint64, t *uint64) uint32

// sameIO is the "same-io" mode: svcauth's host calls without its logic.
type sameIO struct {
	assertion string // a value as long as the benchmarks' session JWT
	remove    string
	sink      uint64 // keeps the reads from being optimised away
}

func parseSameIO(cfg string) *sameIO {
	f := strings.Fields(cfg)
	if len(f) == 0 || f[0] != "same-io" {
		return nil
	}
	s := &sameIO{}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "assertion":
			n, _ := strconv.Atoi(v)
			s.assertion = strings.Repeat("x", n)
		case "remove":
			s.remove = v
		}
	}
	return s
}

func (s *sameIO) request() {
	if b := rawmem.RequestHeaderMap(); len(b) > 0 {
		s.sink += uint64(b[0])
	}
	var ns uint64
	clockTimeGet(0, 1_000_000, &ns)
	s.sink += ns
	if s.remove != "" {
		_ = proxywasm.RemoveHttpRequestHeader(s.remove)
	}
	_ = proxywasm.ReplaceHttpRequestHeader("cf-access-jwt-assertion", s.assertion)
}
