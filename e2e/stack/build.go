// Package stack starts the real svcauth processes — the issuer (build/svcauth)
// and the dev proxy running build/svcauth.wasm — for end-to-end tests and for
// `make run`. It talks to them only as a user would: flags, HTTP and the CLI.
package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Binary names inside a bin dir, as `make build` lays them out.
const (
	IssuerBinary   = "svcauth"
	DevProxyBinary = "svcauth-devproxy"
	WasmFile       = "svcauth.wasm"
)

// BinDir returns the directory holding the built binaries: $SVCAUTH_BIN_DIR
// when set (make test sets it to build/), otherwise a fresh build into
// scratch, so `go test ./e2e/...` also works on its own.
func BinDir(scratch string) (string, error) {
	if dir := os.Getenv("SVCAUTH_BIN_DIR"); dir != "" {
		for _, f := range []string{IssuerBinary, DevProxyBinary, WasmFile} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				return "", fmt.Errorf("SVCAUTH_BIN_DIR=%s lacks %s (run make build): %w", dir, f, err)
			}
		}
		return dir, nil
	}
	return scratch, Build(scratch)
}

// Build compiles the issuer, the dev proxy and the filter into dir.
func Build(dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	builds := []struct {
		out, pkg string
		env      []string
		args     []string
	}{
		{IssuerBinary, "./issuer/cmd/svcauth", []string{"CGO_ENABLED=0"}, nil},
		{DevProxyBinary, "./e2e/cmd/svcauth-devproxy", []string{"CGO_ENABLED=0"}, nil},
		{WasmFile, "./filter", []string{"GOOS=wasip1", "GOARCH=wasm"}, []string{"-buildmode=c-shared"}},
	}
	for _, b := range builds {
		args := append([]string{"build"}, b.args...)
		args = append(args, "-o", filepath.Join(dir, b.out), b.pkg)
		cmd := exec.Command(goTool(), args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the svcauth module")
	}
	return filepath.Dir(mod), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
