package envoy_test

// The compiled filter against what Envoy's Wasm host offers and expects.
//
// V8 in Envoy refuses to instantiate a module that imports a function the host
// does not register ("Failed to load Wasm module due to a missing import"),
// and a callback whose signature differs from the host's is a fatal
// "Bad function signature". No Envoy runs here, so this test reads the import
// and export sections of the real build/svcauth.wasm (wazero parses them; the
// module is compiled, never run) and compares them with the host's tables.
//
// Source of the tables: proxy-wasm-cpp-host, the Proxy-Wasm host library
// inside Envoy, at commit c4d7bb0fda912e24c64daf2aa749ec54cec99412
// ("feat(go-sdk): add wasi hostcalls used by the Go SDK", #427, 2024-12-19),
// the version Envoy 1.33 ships and the reason the Go SDK requires Envoy >= 1.33
// (its README cites that PR):
//
//   - include/proxy-wasm/exports.h: FOR_ALL_HOST_FUNCTIONS (registered as
//     env.proxy_<name>), FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC and
//     FOR_ALL_WASI_FUNCTIONS (registered under both wasi_snapshot_preview1 and
//     wasi_unstable), with each function's C++ signature (Word = i32 on
//     wasm32, int64_t/uint64_t = i64);
//   - src/wasm.cc registerCallbacks(): continue_stream and close_stream only
//     for ABI 0.2.0, plus get_log_level for ABI 0.2.1;
//   - include/proxy-wasm/wasm.h: the module functions the host looks up and
//     their arity (WasmCallWord<N>: N i32 → i32; WasmCallVoid<N>: N i32 → ());
//     src/wasm.cc getFunctions(): _initialize, then malloc or
//     proxy_on_memory_allocate.
//
// Later cpp-host versions (commit 94091cd, 2026-04, shipped from Envoy 1.39)
// register more WASI functions (clock_res_get, fd_filestat_get, …) and make
// poll_oneoff succeed; this test deliberately allows only the 1.33 subset, so
// a Go or SDK upgrade that starts importing one of the newer functions fails
// here instead of in an operator's Envoy 1.33–1.38.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// sig is a function signature: parameter and result types.
type sig struct{ params, results string }

// sigOf renders types as a string of 'i' (i32) and 'I' (i64).
func sigOf(params, results []api.ValueType) sig {
	enc := func(ts []api.ValueType) string {
		var b strings.Builder
		for _, t := range ts {
			switch t {
			case api.ValueTypeI32:
				b.WriteByte('i')
			case api.ValueTypeI64:
				b.WriteByte('I')
			default:
				b.WriteString("?" + api.ValueTypeName(t))
			}
		}
		return b.String()
	}
	return sig{enc(params), enc(results)}
}

func words(n int) string { return strings.Repeat("i", n) }

// proxyHostFunctions: env.proxy_<name> for every ABI version
// (FOR_ALL_HOST_FUNCTIONS).
var proxyHostFunctions = map[string]sig{
	"proxy_log":                          {words(3), "i"},
	"proxy_get_status":                   {words(3), "i"},
	"proxy_set_property":                 {words(4), "i"},
	"proxy_get_property":                 {words(4), "i"},
	"proxy_send_local_response":          {words(8), "i"},
	"proxy_get_shared_data":              {words(5), "i"},
	"proxy_set_shared_data":              {words(5), "i"},
	"proxy_register_shared_queue":        {words(3), "i"},
	"proxy_resolve_shared_queue":         {words(5), "i"},
	"proxy_dequeue_shared_queue":         {words(3), "i"},
	"proxy_enqueue_shared_queue":         {words(3), "i"},
	"proxy_get_header_map_value":         {words(5), "i"},
	"proxy_add_header_map_value":         {words(5), "i"},
	"proxy_replace_header_map_value":     {words(5), "i"},
	"proxy_remove_header_map_value":      {words(3), "i"},
	"proxy_get_header_map_pairs":         {words(3), "i"},
	"proxy_set_header_map_pairs":         {words(3), "i"},
	"proxy_get_header_map_size":          {words(2), "i"},
	"proxy_get_buffer_status":            {words(3), "i"},
	"proxy_get_buffer_bytes":             {words(5), "i"},
	"proxy_set_buffer_bytes":             {words(5), "i"},
	"proxy_http_call":                    {words(10), "i"},
	"proxy_grpc_call":                    {words(12), "i"},
	"proxy_grpc_stream":                  {words(9), "i"},
	"proxy_grpc_close":                   {words(1), "i"},
	"proxy_grpc_cancel":                  {words(1), "i"},
	"proxy_grpc_send":                    {words(4), "i"},
	"proxy_set_tick_period_milliseconds": {words(1), "i"},
	"proxy_get_current_time_nanoseconds": {words(1), "i"},
	"proxy_define_metric":                {words(4), "i"},
	"proxy_increment_metric":             {"iI", "i"},
	"proxy_record_metric":                {"iI", "i"},
	"proxy_get_metric":                   {words(2), "i"},
	"proxy_set_effective_context":        {words(1), "i"},
	"proxy_done":                         {"", "i"},
	"proxy_call_foreign_function":        {words(6), "i"},
}

// proxyABISpecific: registered only for the ABI version the module declares.
var proxyABISpecific = map[string]map[string]sig{
	"proxy_abi_version_0_2_0": {
		"proxy_continue_stream": {words(1), "i"},
		"proxy_close_stream":    {words(1), "i"},
	},
	"proxy_abi_version_0_2_1": {
		"proxy_continue_stream": {words(1), "i"},
		"proxy_close_stream":    {words(1), "i"},
		"proxy_get_log_level":   {words(1), "i"},
	},
}

// wasiFunctions: the WASI preview1 subset of FOR_ALL_WASI_FUNCTIONS at
// c4d7bb0 (the unimplemented ones are stubs answering ENOSYS or similar, but
// they are registered, so a module importing them instantiates).
var wasiFunctions = map[string]sig{
	"fd_write":            {words(4), "i"},
	"fd_read":             {words(4), "i"},
	"fd_seek":             {"iIii", "i"},
	"fd_close":            {words(1), "i"},
	"fd_fdstat_get":       {words(2), "i"},
	"fd_fdstat_set_flags": {words(2), "i"},
	"environ_get":         {words(2), "i"},
	"environ_sizes_get":   {words(2), "i"},
	"args_get":            {words(2), "i"},
	"args_sizes_get":      {words(2), "i"},
	"clock_time_get":      {"iIi", "i"},
	"random_get":          {words(2), "i"},
	"sched_yield":         {"", "i"},
	"poll_oneoff":         {words(4), "i"},
	"proc_exit":           {words(1), ""},
	"path_open":           {"iiiiiIIii", "i"},
	"fd_prestat_get":      {words(2), "i"},
	"fd_prestat_dir_name": {words(3), "i"},
}

// requiredExports: what the host looks up and the filter relies on, with the
// signatures the host calls them with (wasm.h). _initialize is the WASI
// reactor entry point of a -buildmode=c-shared Go module.
var requiredExports = map[string]sig{
	"_initialize":                 {"", ""},
	"proxy_on_memory_allocate":    {words(1), "i"}, // the host's malloc when "malloc" is not exported
	"proxy_on_context_create":     {words(2), ""},
	"proxy_on_vm_start":           {words(2), "i"},
	"proxy_on_configure":          {words(2), "i"},
	"proxy_on_request_headers":    {words(3), "i"}, // ABI 0.2.x arity
	"proxy_on_response_headers":   {words(3), "i"},
	"proxy_on_http_call_response": {words(5), ""},
	"proxy_on_tick":               {words(1), ""},
	"proxy_on_log":                {words(1), ""},
	"proxy_on_done":               {words(1), "i"},
	"proxy_on_delete":             {words(1), ""},
}

func wasmPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SVCAUTH_WASM"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "svcauth.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "github.com/svcauth/svcauth/filter")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./filter for wasip1: %v\n%s", err, msg)
	}
	return out
}

func TestWasmImportsAreProvidedByEnvoy(t *testing.T) {
	bin, err := os.ReadFile(wasmPath(t))
	if err != nil {
		t.Fatal(err)
	}
	abi, imported, errs := checkWasm(bin)
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("ABI %s; %d imports: %s", abi, len(imported), strings.Join(imported, " "))
	// The filter cannot work without these; their absence means the build
	// changed shape (or the import section was not read).
	for _, need := range []string{"env.proxy_http_call", "env.proxy_send_local_response", "env.proxy_get_header_map_pairs"} {
		if !slices.Contains(imported, need) {
			t.Errorf("the module does not import %s", need)
		}
	}
}

// TestWasmCheckRefusesForeignImports runs the check on a small hand-made
// module that imports what Envoy 1.33 lacks and exports too little.
func TestWasmCheckRefusesForeignImports(t *testing.T) {
	bin := tinyModule([]tinyImport{
		{"env", "proxy_log", 1},                           // wrong signature: (i32) -> i32
		{"env", "proxy_get_log_level", 1},                 // ABI 0.2.1 only; the module says 0.2.0
		{"wasi_snapshot_preview1", "fd_filestat_get", 2},  // newer cpp-host only
		{"wasi_snapshot_preview1", "clock_time_get", 3},   // allowed, right signature
		{"wasi_snapshot_preview2", "get-random-bytes", 1}, // no such host module
	}, "proxy_abi_version_0_2_0")
	_, _, errs := checkWasm(bin)
	var all []string
	for _, err := range errs {
		all = append(all, err.Error())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"env.proxy_log with signature",
		"imports env.proxy_get_log_level, which Envoy",
		"imports wasi_snapshot_preview1.fd_filestat_get, which Envoy",
		"imports wasi_snapshot_preview2.get-random-bytes, which Envoy",
		"does not export proxy_on_request_headers",
		"does not export proxy_on_memory_allocate",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no error saying %q; errors:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "clock_time_get") {
		t.Errorf("an allowed import was refused:\n%s", joined)
	}
	if _, _, errs := checkWasm(tinyModule(nil, "")); len(errs) == 0 || !strings.Contains(errs[0].Error(), "no proxy-wasm ABI") {
		t.Errorf("a module without an ABI marker: %v", errs)
	}
}

// checkWasm compiles (never runs) a module and compares its imports and
// exports with the host's tables. It returns the declared ABI marker and the
// sorted, distinct imports.
func checkWasm(bin []byte) (abi string, imported []string, errs []error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	mod, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return "", nil, []error{fmt.Errorf("the .wasm does not compile: %w", err)}
	}
	exports := mod.ExportedFunctions()

	// The ABI version marker decides which ABI-specific imports exist.
	for name := range proxyABISpecific {
		if _, ok := exports[name]; ok {
			if abi != "" {
				return "", nil, []error{fmt.Errorf("the module declares two ABI versions: %s and %s", abi, name)}
			}
			abi = name
		}
	}
	if abi == "" {
		return "", nil, []error{errors.New("the module exports no proxy-wasm ABI 0.2.x version marker (proxy_abi_version_0_2_0 or _0_2_1)")}
	}
	if s := exports[abi]; sigOf(s.ParamTypes(), s.ResultTypes()) != (sig{}) {
		errs = append(errs, fmt.Errorf("%s must take and return nothing", abi))
	}

	allowed := map[string]sig{}
	for n, s := range proxyHostFunctions {
		allowed["env."+n] = s
	}
	for n, s := range proxyABISpecific[abi] {
		allowed["env."+n] = s
	}
	for n, s := range wasiFunctions {
		allowed["wasi_snapshot_preview1."+n] = s
		allowed["wasi_unstable."+n] = s
	}
	version := strings.ReplaceAll(strings.TrimPrefix(abi, "proxy_abi_version_"), "_", ".")
	for _, f := range mod.ImportedFunctions() {
		module, name, _ := f.Import()
		full := module + "." + name
		if !slices.Contains(imported, full) {
			imported = append(imported, full)
		}
		want, ok := allowed[full]
		if !ok {
			errs = append(errs, fmt.Errorf("imports %s, which Envoy >= 1.33 (proxy-wasm-cpp-host c4d7bb0, ABI %s) does not provide: Envoy would refuse to load the module", full, version))
			continue
		}
		if got := sigOf(f.ParamTypes(), f.ResultTypes()); got != want {
			errs = append(errs, fmt.Errorf("imports %s with signature %v, the host's is %v", full, got, want))
		}
	}
	if len(mod.ImportedMemories()) > 0 {
		errs = append(errs, errors.New("the module imports a memory; the host provides functions only"))
	}
	sort.Strings(imported)

	names := make([]string, 0, len(requiredExports))
	for name := range requiredExports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := requiredExports[name]
		f, ok := exports[name]
		if !ok {
			errs = append(errs, fmt.Errorf("the module does not export %s", name))
			continue
		}
		if got := sigOf(f.ParamTypes(), f.ResultTypes()); got != want {
			errs = append(errs, fmt.Errorf("exports %s with signature %v; the host calls it as %v", name, got, want))
		}
	}
	if _, ok := mod.ExportedMemories()["memory"]; !ok {
		errs = append(errs, errors.New(`the module exports no memory named "memory"`))
	}
	return abi, imported, errs
}

type tinyImport struct {
	module, name string
	typ          byte // index into tinyModule's types
}

// tinyModule encodes a WebAssembly module with the given function imports
// and, when marker is not empty, one exported no-op function of that name.
// Types: 0 = (i32) -> i32, 1 = () -> (), 2 = (i32 i32) -> i32, 3 = (i32 i64 i32) -> i32.
func tinyModule(imports []tinyImport, marker string) []byte {
	vec := func(n int, items ...[]byte) []byte {
		out := []byte{byte(n)}
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	section := func(id byte, body []byte) []byte { // the size is an unsigned LEB128
		out := []byte{id}
		for n := len(body); ; n >>= 7 {
			if n < 0x80 {
				out = append(out, byte(n))
				break
			}
			out = append(out, byte(n&0x7f|0x80))
		}
		return append(out, body...)
	}

	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, vec(4,
		[]byte{0x60, 1, 0x7f, 1, 0x7f},
		[]byte{0x60, 0, 0},
		[]byte{0x60, 2, 0x7f, 0x7f, 1, 0x7f},
		[]byte{0x60, 3, 0x7f, 0x7e, 0x7f, 1, 0x7f},
	))...)
	var imps [][]byte
	for _, im := range imports {
		imps = append(imps, append(append(str(im.module), str(im.name)...), 0x00, im.typ))
	}
	if len(imps) > 0 {
		out = append(out, section(2, vec(len(imps), imps...))...)
	}
	if marker != "" {
		out = append(out, section(3, vec(1, []byte{1}))...)
		out = append(out, section(7, vec(1, append(str(marker), 0x00, byte(len(imports)))))...)
		out = append(out, section(10, vec(1, []byte{2, 0, 0x0b}))...)
	}
	return out
}
