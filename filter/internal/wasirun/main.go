//go:build !wasip1

// Command wasirun runs a WASI command module (a Go test binary built with
// GOOS=wasip1) on wazero, the engine the filter's benchmarks use, with real
// clocks: `make bench` runs the filter's pure-logic benchmarks inside wasm
// with it (go test -exec), without a separate runtime to install. A test
// binary of the filter imports the proxy-wasm ABI ("env"); those functions
// are defined here to fail if called: the benchmarks it runs make no host
// calls.
//
//	GOOS=wasip1 GOARCH=wasm go test -exec 'go run ./filter/internal/wasirun' -run '^$' -bench Logic ./filter/plugin
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wasirun module.wasm [args...]")
		os.Exit(2)
	}
	bin, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasirun:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	code, err := rt.CompileModule(ctx, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasirun:", err)
		os.Exit(2)
	}
	if err := stubEnv(ctx, rt, code); err != nil {
		fmt.Fprintln(os.Stderr, "wasirun:", err)
		os.Exit(2)
	}
	cfg := wazero.NewModuleConfig().
		WithArgs(os.Args[1:]...).
		WithStdout(os.Stdout).WithStderr(os.Stderr).WithStdin(os.Stdin).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(".", "/"))
	if _, err := rt.InstantiateModule(ctx, code, cfg); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			os.Exit(int(exit.ExitCode()))
		}
		fmt.Fprintln(os.Stderr, "wasirun:", err)
		os.Exit(1)
	}
}

// stubEnv defines every function the module imports from "env" as one that
// traps when called.
func stubEnv(ctx context.Context, rt wazero.Runtime, code wazero.CompiledModule) error {
	b := rt.NewHostModuleBuilder("env")
	n := 0
	for _, f := range code.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != "env" {
			continue
		}
		n++
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {
			panic("wasirun: host call " + name + " (not available to a benchmark)")
		}), f.ParamTypes(), f.ResultTypes()).Export(name)
	}
	if n == 0 {
		return nil
	}
	_, err := b.Instantiate(ctx)
	return err
}
