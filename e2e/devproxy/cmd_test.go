package devproxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

func TestHelpSaysItIsAHarness(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"--help"}, &stdout, &stderr)
	if err != nil || ExitCode(err) != 0 {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"development and test harness", "production runs Envoy", "--cluster NAME=URL"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no upstream":      {"--wasm", "x.wasm"},
		"cluster syntax":   {"--upstream", "http://127.0.0.1:1", "--cluster", "auth"},
		"cluster twice":    {"--upstream", "http://127.0.0.1:1", "--cluster", "a=http://h", "--cluster", "a=http://h"},
		"cluster path":     {"--upstream", "http://127.0.0.1:1", "--cluster", "a=http://h/v1"},
		"unknown flag":     {"--upstream", "http://127.0.0.1:1", "--nope"},
		"positional":       {"--upstream", "http://127.0.0.1:1", "extra"},
		"upstream no host": {"--upstream", "http://"},
	} {
		err := Run(context.Background(), args, io.Discard, io.Discard)
		if ExitCode(err) != 2 {
			t.Errorf("%s: err %v, exit %d, want 2", name, err, ExitCode(err))
		}
	}
}

// TestRun drives the whole command: real files, a free port, the listening
// line, one request through a callout, graceful shutdown on cancel.
func TestRun(t *testing.T) {
	auth := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body string) {
		_, _ = w.Write([]byte("granted"))
	})
	up := newRecorder(t, nil)
	cfgFile := filepath.Join(t.TempDir(), "plugin.json")
	if err := os.WriteFile(cfgFile, []byte(`{"timeout_ms": 2000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	stderr := &stack.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{
			"--wasm", testPluginPath,
			"--plugin-config", cfgFile,
			"--listen", "127.0.0.1:0",
			"--upstream", up.URL,
			"--cluster", "auth=" + auth.URL,
		}, outW, stderr)
		outW.Close()
	}()

	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				line <- sc.Text()
			}
		}
		close(line)
	}()
	var url string
	select {
	case l, ok := <-line:
		if !ok {
			t.Fatalf("Run ended without a listening line: %v\n%s", <-done, stderr.String())
		}
		m := regexp.MustCompile(`^svcauth-devproxy: listening on (http://127\.0\.0\.1:\d+)$`).FindStringSubmatch(l)
		if m == nil || strings.HasSuffix(m[1], ":0") {
			t.Fatalf("listening line %q", l)
		}
		url = m[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("no listening line; stderr:\n%s", stderr.String())
	}

	req, _ := http.NewRequest("GET", url+"/x", nil)
	req.Header.Set("X-Callout", "auth")
	req.Header.Set("X-Secret", "run-secret-xyz")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.last(t).header.Get("X-Auth-Body") != "granted" {
		t.Fatalf("got %d, upstream x-auth-body %q", resp.StatusCode, up.last(t).header.Get("X-Auth-Body"))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	logs := stderr.String()
	if strings.Contains(logs, "run-secret-xyz") {
		t.Errorf("secret in stderr:\n%s", logs)
	}
	for _, want := range []string{"testplugin: started", "GET /x 200 upstream"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logs)
		}
	}
}

func TestRunPluginStartFailureExits1(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "plugin.json")
	if err := os.WriteFile(cfgFile, []byte(`{"fail": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), []string{
		"--wasm", testPluginPath, "--plugin-config", cfgFile, "--upstream", "http://127.0.0.1:1",
	}, io.Discard, io.Discard)
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "configured to fail") {
		t.Fatalf("err %v, exit %d", err, ExitCode(err))
	}
}

func TestLogFilter(t *testing.T) {
	var out bytes.Buffer
	f := &logFilter{out: &out}
	l := log.New(f, "", log.LstdFlags)
	l.Printf("[http callout to %s] timeout: %d", "svcauth-issuer", 2000)
	l.Printf("[http callout to %s] headers: %v", "svcauth-issuer", [][2]string{{"x", "secret-a"}})
	l.Printf("[http callout to %s] body: %s", "svcauth-issuer", "{\"client_secret\":\"secret-b\"}\nmore secret-c")
	l.Printf("[http callout to %s] trailers: %v", "svcauth-issuer", [][2]string{})
	l.Printf("[foreign call] param: %s", "secret-d")
	l.Printf("proxy_%s_log: %s", "info", "hello [http callout to nowhere] quoted")
	l.Printf("ProxyDone not implemented in the host emulator yet")

	got := out.String()
	if strings.Contains(got, "secret") {
		t.Errorf("secret forwarded:\n%s", got)
	}
	for _, want := range []string{"proxy_info_log: hello [http callout to nowhere] quoted", "ProxyDone not implemented"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if ts := f.takeTimeouts(); len(ts) != 1 || ts[0] != 2*time.Second {
		t.Errorf("timeouts %v", ts)
	}
	if ts := f.takeTimeouts(); len(ts) != 0 {
		t.Errorf("timeouts not drained: %v", ts)
	}
}
