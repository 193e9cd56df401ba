// Command filter is the svcauth proxy-wasm filter. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/svcauth.wasm ./filter
//
// The logic lives in package plugin.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/svcauth/svcauth/filter/plugin"
)

func main() {}

func init() { proxywasm.SetVMContext(plugin.NewVMContext()) }
