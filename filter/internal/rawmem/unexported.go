package rawmem

import (
	"reflect"
	"unsafe"
)

// Unexported makes v, a field reached by reflection that may be
// unexported, readable and settable. Only the benchmark harness uses it
// (filter/plugin/bench_test.go): the SDK's emulator never forgets a finished
// stream and does not expose the wazero module behind a wasm VM, and the
// benchmarks must do both. The module never calls it.
func Unexported(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}
