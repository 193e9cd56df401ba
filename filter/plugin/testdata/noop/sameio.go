package main

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

// The ABI calls svcauth declares itself (filter/plugin/headers_wasm.go,
// wallclock_wasm.go), declared the same way.
//
//go:wasmimport env proxy_get_header_map_pairs
//go:noescape
func getHeaderMapPairs(mapType uint32, data unsafe.Pointer, size *int32) uint32

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
	var raw *byte
	var size int32
	if getHeaderMapPairs(0, unsafe.Pointer(&raw), &size) == 0 && raw != nil {
		s.sink += uint64(*raw)
	}
	var ns uint64
	clockTimeGet(0, 1_000_000, &ns)
	s.sink += ns
	if s.remove != "" {
		_ = proxywasm.RemoveHttpRequestHeader(s.remove)
	}
	_ = proxywasm.ReplaceHttpRequestHeader("cf-access-jwt-assertion", s.assertion)
}
