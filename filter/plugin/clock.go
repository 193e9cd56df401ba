package plugin

import (
	"encoding/binary"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

var requestTimeProperty = []string{"request", "time"}

// requestTime returns when the request arrived, in Unix seconds. It prefers
// the host's request.time attribute (8 bytes, little-endian Unix nanoseconds,
// as Envoy serialises timestamps) over the WASI clock: both are the real time
// in Envoy, but a host may give a Go-built module a fake WASI clock (wazero's
// default, which proxytest uses, reads 2022-01-01), whereas request.time is
// always the host's own clock. Tests set it to control time.
func requestTime() int64 {
	if b, err := proxywasm.GetProperty(requestTimeProperty); err == nil && len(b) == 8 {
		return int64(binary.LittleEndian.Uint64(b)) / int64(time.Second)
	}
	return time.Now().Unix()
}

// currentTime is the later of the request time and the WASI clock: after a
// callout the request time is seconds old, and a fake WASI clock is far in
// the past, so the later of the two is the best estimate of now.
func currentTime(start int64) int64 {
	if now := time.Now().Unix(); now > start {
		return now
	}
	return start
}
