//go:build !wasip1

package wasmhost

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// proxy-wasm WasmResult codes.
const (
	resultOK            = 0
	resultNotFound      = 1
	resultBadArgument   = 2
	resultInvalidMemory = 6
	resultCasMismatch   = 8
)

// Map and buffer types of the ABI that the host serves.
const (
	mapRequestHeaders      = 0
	mapResponseHeaders     = 2
	mapCallResponseHeaders = 6

	bufferCallResponseBody = 4
	bufferVMConfig         = 6
	bufferPluginConfig     = 7
)

// hostFunc implements one ABI function: it reads its arguments from stack
// and returns a WasmResult.
type hostFunc func(m api.Memory, s []uint64) uint32

// exportABI defines the "env" module: the proxy-wasm functions svcauth's
// module and the benchmarks' baseline module import, as direct (not
// reflective) wazero functions.
func (h *Host) exportABI() error {
	b := h.rt.NewHostModuleBuilder("env")
	define := func(name string, params []api.ValueType, f hostFunc) {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, s []uint64) {
			// An i32 argument's upper 32 bits on the stack are not defined.
			for i, t := range params {
				if t == api.ValueTypeI32 {
					s[i] = uint64(uint32(s[i]))
				}
			}
			s[0] = uint64(f(mod.Memory(), s))
		}), params, []api.ValueType{api.ValueTypeI32}).Export(name)
	}
	i32 := func(n int) []api.ValueType {
		p := make([]api.ValueType, n)
		for i := range p {
			p[i] = api.ValueTypeI32
		}
		return p
	}
	i32i64 := []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}

	define("proxy_log", i32(3), h.proxyLog)
	define("proxy_send_local_response", i32(8), h.sendLocalResponse)
	define("proxy_get_shared_data", i32(5), h.getSharedData)
	define("proxy_set_shared_data", i32(5), h.setSharedData)
	define("proxy_add_header_map_value", i32(5), h.addHeader)
	define("proxy_replace_header_map_value", i32(5), h.replaceHeader)
	define("proxy_remove_header_map_value", i32(3), h.removeHeader)
	define("proxy_get_header_map_pairs", i32(3), h.getHeaderPairs)
	define("proxy_get_header_map_value", i32(5), h.getHeader)
	define("proxy_get_buffer_bytes", i32(5), h.getBufferBytes)
	define("proxy_continue_stream", i32(1), h.continueStream)
	define("proxy_http_call", i32(10), h.httpCall)
	define("proxy_set_tick_period_milliseconds", i32(1), h.setTickPeriod)
	define("proxy_set_effective_context", i32(1), h.setEffectiveContext)
	define("proxy_define_metric", i32(4), h.defineMetric)
	define("proxy_increment_metric", i32i64, h.incrementMetric)
	define("proxy_record_metric", i32i64, h.recordMetric)
	define("proxy_get_property", i32(4), h.getProperty)
	_, err := b.Instantiate(h.ctx)
	return err
}

// view returns size bytes of guest memory at ptr, without copying.
func view(m api.Memory, ptr, size uint64) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	return m.Read(uint32(ptr), uint32(size))
}

// give copies data into memory the module allocates
// (proxy_on_memory_allocate) and writes its address and size where the
// module asked, as a host does for every value it returns.
func (h *Host) give(data []byte, ptrPtr, sizePtr uint64) uint32 {
	var ptr uint32
	if len(data) > 0 {
		s := [1]uint64{uint64(len(data))}
		if err := h.guest.malloc.CallWithStack(h.ctx, s[:]); err != nil {
			panic(fmt.Sprintf("wasmhost: proxy_on_memory_allocate: %v", err))
		}
		ptr = uint32(s[0])
	}
	m := h.mod.Memory() // after the allocation, which may grow it
	if (len(data) > 0 && !m.Write(ptr, data)) || !m.WriteUint32Le(uint32(ptrPtr), ptr) || !m.WriteUint32Le(uint32(sizePtr), uint32(len(data))) {
		return resultInvalidMemory
	}
	return resultOK
}

func (h *Host) proxyLog(m api.Memory, s []uint64) uint32 {
	msg, ok := view(m, s[1], s[2])
	if !ok {
		return resultInvalidMemory
	}
	fmt.Fprintf(h.log, "wasm log (level %d): %s\n", s[0], msg)
	return resultOK
}

func (h *Host) stream() *Stream { return h.streams[h.effective] }

func (h *Host) sendLocalResponse(m api.Memory, s []uint64) uint32 {
	st := h.stream()
	if st == nil {
		return resultNotFound
	}
	details, ok1 := view(m, s[1], s[2])
	body, ok2 := view(m, s[3], s[4])
	pairs, ok3 := view(m, s[5], s[6])
	if !ok1 || !ok2 || !ok3 {
		return resultInvalidMemory
	}
	headers, err := decodePairs(pairs)
	if err != nil {
		return resultBadArgument
	}
	st.Local = &LocalResponse{Status: uint32(s[0]), Details: string(details), Headers: headers, Body: append([]byte(nil), body...)}
	return resultOK
}

func (h *Host) getSharedData(m api.Memory, s []uint64) uint32 {
	key, ok := view(m, s[0], s[1])
	if !ok {
		return resultInvalidMemory
	}
	v, found := h.shared.values[string(key)]
	if !found {
		return resultNotFound
	}
	if r := h.give(v.value, s[2], s[3]); r != resultOK {
		return r
	}
	if !h.mod.Memory().WriteUint32Le(uint32(s[4]), v.cas) {
		return resultInvalidMemory
	}
	return resultOK
}

// setSharedData follows Envoy: a non-zero cas must match the entry's.
func (h *Host) setSharedData(m api.Memory, s []uint64) uint32 {
	key, ok1 := view(m, s[0], s[1])
	value, ok2 := view(m, s[2], s[3])
	if !ok1 || !ok2 {
		return resultInvalidMemory
	}
	cas := uint32(s[4])
	v, found := h.shared.values[string(key)]
	if found && cas != 0 && cas != v.cas {
		return resultCasMismatch
	}
	if !found {
		v = &sharedValue{}
		h.shared.values[string(key)] = v
	}
	v.value = append(v.value[:0], value...)
	v.cas++
	return resultOK
}

// headerMap returns the map of a map type for the effective context.
func (h *Host) headerMap(t uint64) *[][2]string {
	switch t {
	case mapRequestHeaders, mapResponseHeaders:
		st := h.stream()
		if st == nil {
			return nil
		}
		if t == mapRequestHeaders {
			return &st.RequestHeaders
		}
		return &st.ResponseHeaders
	case mapCallResponseHeaders:
		if h.calloutResp == nil {
			return nil
		}
		return &h.calloutResp.headers
	}
	return nil
}

// mapAndKey resolves a map type and a header name (lower-cased, as Envoy's
// header maps are).
func (h *Host) mapAndKey(m api.Memory, t, ptr, size uint64) (*[][2]string, string, uint32) {
	hm := h.headerMap(t)
	if hm == nil {
		return nil, "", resultNotFound
	}
	key, ok := view(m, ptr, size)
	if !ok {
		return nil, "", resultInvalidMemory
	}
	return hm, strings.ToLower(string(key)), resultOK
}

func (h *Host) addHeader(m api.Memory, s []uint64) uint32 {
	hm, key, r := h.mapAndKey(m, s[0], s[1], s[2])
	if r != resultOK {
		return r
	}
	value, ok := view(m, s[3], s[4])
	if !ok {
		return resultInvalidMemory
	}
	*hm = append(*hm, [2]string{key, string(value)})
	return resultOK
}

func (h *Host) replaceHeader(m api.Memory, s []uint64) uint32 {
	hm, key, r := h.mapAndKey(m, s[0], s[1], s[2])
	if r != resultOK {
		return r
	}
	value, ok := view(m, s[3], s[4])
	if !ok {
		return resultInvalidMemory
	}
	removeAll(hm, key)
	*hm = append(*hm, [2]string{key, string(value)})
	return resultOK
}

func (h *Host) removeHeader(m api.Memory, s []uint64) uint32 {
	hm, key, r := h.mapAndKey(m, s[0], s[1], s[2])
	if r != resultOK {
		return r
	}
	removeAll(hm, key)
	return resultOK
}

func removeAll(hm *[][2]string, key string) {
	kept := (*hm)[:0]
	for _, kv := range *hm {
		if kv[0] != key {
			kept = append(kept, kv)
		}
	}
	*hm = kept
}

func (h *Host) getHeader(m api.Memory, s []uint64) uint32 {
	hm, key, r := h.mapAndKey(m, s[0], s[1], s[2])
	if r != resultOK {
		return r
	}
	for _, kv := range *hm {
		if kv[0] == key {
			return h.give([]byte(kv[1]), s[3], s[4])
		}
	}
	return resultNotFound
}

func (h *Host) getHeaderPairs(_ api.Memory, s []uint64) uint32 {
	hm := h.headerMap(s[0])
	if hm == nil {
		return resultNotFound
	}
	b := encodePairs(*hm)
	if h.opts.BreakHeaderMap != nil {
		b = h.opts.BreakHeaderMap(b)
	}
	return h.give(b, s[1], s[2])
}

func (h *Host) getBufferBytes(_ api.Memory, s []uint64) uint32 {
	var buf []byte
	switch s[0] {
	case bufferPluginConfig:
		buf = h.opts.PluginConfig
	case bufferVMConfig:
		buf = nil
	case bufferCallResponseBody:
		if h.calloutResp == nil {
			return resultNotFound
		}
		buf = h.calloutResp.body
	default:
		return resultNotFound
	}
	start, size := uint64(min(uint64(len(buf)), s[1])), s[2]
	buf = buf[start:]
	if uint64(len(buf)) > size {
		buf = buf[:size]
	}
	return h.give(buf, s[3], s[4])
}

func (h *Host) continueStream(api.Memory, []uint64) uint32 {
	st := h.stream()
	if st == nil {
		return resultNotFound
	}
	st.Continued = true
	return resultOK
}

// httpCall reads its arguments as sendLocalResponse does (views, then the
// header pairs); the ABI orders the two calls' arguments differently, so the
// few lines are written out in each.
func (h *Host) httpCall(m api.Memory, s []uint64) uint32 {
	upstream, ok1 := view(m, s[0], s[1])
	pairs, ok2 := view(m, s[2], s[3])
	body, ok3 := view(m, s[4], s[5])
	if !ok1 || !ok2 || !ok3 {
		return resultInvalidMemory
	}
	headers, err := decodePairs(pairs)
	if err != nil {
		return resultBadArgument
	}
	h.nextCallout++
	c := &Callout{Token: h.nextCallout, Upstream: string(upstream), Headers: headers, Body: append([]byte(nil), body...), TimeoutMS: uint32(s[8])}
	h.callouts[c.Token] = c
	if !m.WriteUint32Le(uint32(s[9]), c.Token) {
		return resultInvalidMemory
	}
	return resultOK
}

// setTickPeriod accepts any period: the host ticks when its caller says.
func (h *Host) setTickPeriod(api.Memory, []uint64) uint32 { return resultOK }

func (h *Host) setEffectiveContext(_ api.Memory, s []uint64) uint32 {
	id := uint32(s[0])
	if _, ok := h.streams[id]; !ok && id != rootID {
		return resultBadArgument
	}
	h.effective = id
	return resultOK
}

func (h *Host) defineMetric(m api.Memory, s []uint64) uint32 {
	name, ok := view(m, s[1], s[2])
	if !ok {
		return resultInvalidMemory
	}
	id, found := h.metricIDs[string(name)]
	if !found {
		id = uint32(len(h.metrics))
		h.metrics = append(h.metrics, metric{name: string(name), kind: uint32(s[0])})
		h.metricIDs[string(name)] = id
	}
	if !m.WriteUint32Le(uint32(s[3]), id) {
		return resultInvalidMemory
	}
	return resultOK
}

func (h *Host) incrementMetric(_ api.Memory, s []uint64) uint32 {
	if s[0] >= uint64(len(h.metrics)) {
		return resultNotFound
	}
	h.metrics[s[0]].value += s[1] // a negative int64 offset wraps to a decrement
	return resultOK
}

func (h *Host) recordMetric(_ api.Memory, s []uint64) uint32 {
	if s[0] >= uint64(len(h.metrics)) {
		return resultNotFound
	}
	h.metrics[s[0]].value = s[1]
	return resultOK
}

var requestTimePath = "request\x00time"

func (h *Host) getProperty(m api.Memory, s []uint64) uint32 {
	path, ok := view(m, s[0], s[1])
	if !ok {
		return resultInvalidMemory
	}
	if string(path) == requestTimePath {
		return h.give(now(), s[2], s[3])
	}
	v, found := h.props[string(path)]
	if !found {
		return resultNotFound
	}
	return h.give(v, s[2], s[3])
}

// encodePairs serialises a header map as proxy-wasm does: the count, each
// pair's key and value sizes, then each key and value followed by a NUL.
// (filter/headers.SerializePairs writes the same format; the host is written
// apart from the filter's code on purpose, so that the two can disagree.)
func encodePairs(pairs [][2]string) []byte {
	size := 4
	for _, kv := range pairs {
		size += 8 + len(kv[0]) + len(kv[1]) + 2
	}
	b := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(b, uint32(len(pairs)))
	for _, kv := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range pairs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}

// decodePairs parses encodePairs' format, copying the strings.
func decodePairs(b []byte) ([][2]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("header pairs: %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > (len(b)-4)/10 {
		return nil, fmt.Errorf("header pairs: %d pairs in %d bytes", n, len(b))
	}
	sizes, data := b[4:4+8*n], b[4+8*n:]
	out := make([][2]string, n)
	for i := range out {
		for j := range 2 {
			l := int(binary.LittleEndian.Uint32(sizes[8*i+4*j:]))
			if l+1 > len(data) || data[l] != 0 {
				return nil, fmt.Errorf("header pairs: pair %d overruns the buffer", i)
			}
			out[i][j] = string(data[:l])
			data = data[l+1:]
		}
	}
	return out, nil
}
