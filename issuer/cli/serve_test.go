package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/keys"
)

// servedIssuer is a `svcauth serve` run in this process.
type servedIssuer struct {
	addr     string
	adminKey string // from the "shown once" line, if printed
	lines    []string
	cancel   context.CancelFunc
	done     chan int
	mu       sync.Mutex
}

var (
	listeningRE = regexp.MustCompile(`msg="svcauth issuer listening" addr=(\S+)`)
	adminKeyRE  = regexp.MustCompile(`^svcauth: admin key \(shown once\): (\S+)$`)
)

// startServe runs serve with args and waits until it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *servedIssuer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &servedIssuer{cancel: cancel, done: make(chan int, 1)}
	go func() {
		code := run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, pw, func(k string) string { return env[k] })
		pw.Close()
		s.done <- code
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.lines = append(s.lines, line)
			if m := adminKeyRE.FindStringSubmatch(line); m != nil {
				s.adminKey = m[1]
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil && !signalled {
				s.addr = m[1]
				signalled = true
				close(ready)
			}
			s.mu.Unlock()
		}
		if !signalled {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start listening")
	}
	if s.addr == "" {
		t.Fatalf("serve exited before listening:\n%s", strings.Join(s.lines, "\n"))
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *servedIssuer) stop(t *testing.T) int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancel")
		return -1
	}
}

func (s *servedIssuer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "svcauth.db")
	masterFile := filepath.Join(dir, "master.key")
	adminFile := filepath.Join(dir, "admin.key")
	args := []string{"--db", db, "--master-key-file", masterFile, "--admin-key-file", adminFile, "--issuer-url", "https://issuer.example"}
	s := startServe(t, nil, args...)

	out := s.output()
	if n := strings.Count(out, "admin key (shown once)"); n != 1 || !keys.ValidAdminKey(s.adminKey) {
		t.Fatalf("want exactly one admin key line with a valid key, got %d:\n%s", n, out)
	}
	for _, f := range []string{adminFile, masterFile} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", f, err, st.Mode().Perm())
		}
	}
	if b, _ := os.ReadFile(adminFile); strings.TrimSpace(string(b)) != s.adminKey {
		t.Fatalf("admin key file %q, printed %q", b, s.adminKey)
	}
	if resp, err := http.Get("http://" + s.addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}

	e := &testEnv{t: t, url: "http://" + s.addr, env: map[string]string{EnvURL: "http://" + s.addr, EnvAdminKey: s.adminKey}}
	var tok apiv1.Token
	e.ok(&tok, "tokens", "create", "--name", "ci", "-o", "json")
	var app apiv1.App
	e.ok(&app, "apps", "create", "--name", "billing", "--domain", "billing.example.com", "-o", "json")
	e.ok(nil, "policies", "create", "--app", app.ID, "--decision", "non_identity", "--include", "any_valid_service_token")
	exchange(t, e.url, tok, app.AUD, 200)

	if code := s.stop(t); code != ExitOK {
		t.Fatalf("serve exit %d after cancel:\n%s", code, s.output())
	}
	out = s.output()
	if strings.Contains(out, tok.ClientSecret) || strings.Count(out, s.adminKey) != 1 {
		t.Fatalf("a secret is in the logs, or the admin key more than once:\n%s", out)
	}

	// A restart keeps the state and prints no new admin key; last_seen_at
	// was written at shutdown.
	s2 := startServe(t, nil, args...)
	if s2.adminKey != "" || strings.Contains(s2.output(), "shown once") {
		t.Fatalf("restart printed an admin key:\n%s", s2.output())
	}
	e.url, e.env[EnvURL] = "http://"+s2.addr, "http://"+s2.addr
	var got apiv1.Token
	e.ok(&got, "tokens", "get", tok.ID, "-o", "json")
	if got.LastSeenAt == nil {
		t.Fatal("last_seen_at not written at shutdown")
	}
	exchange(t, e.url, tok, app.AUD, 200)
}

func TestServeAdoptsAdminKeyFileAndMasterKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	adminFile := filepath.Join(dir, "admin.key")
	adopted := keys.NewAdminKey()
	if err := os.WriteFile(adminFile, []byte(adopted+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{keys.EnvMasterKey: base64.StdEncoding.EncodeToString(make([]byte, 32))}
	masterFile := filepath.Join(dir, "master.key")
	s := startServe(t, env, "--db", filepath.Join(dir, "db"), "--master-key-file", masterFile, "--admin-key-file", adminFile)
	if s.adminKey != "" {
		t.Fatalf("printed a key although one was adopted:\n%s", s.output())
	}
	if _, err := os.Stat(masterFile); err == nil {
		t.Fatal("wrote a master key file although the environment had one")
	}
	e := &testEnv{t: t, env: map[string]string{EnvURL: "http://" + s.addr, EnvAdminKey: adopted}}
	e.ok(nil, "tokens", "list")

	env[keys.EnvMasterKey] = "short"
	var stderr strings.Builder
	code := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "db2")}, strings.NewReader(""), io.Discard, &stderr, func(k string) string { return env[k] })
	if code != ExitFailure || !strings.Contains(stderr.String(), keys.EnvMasterKey) {
		t.Fatalf("bad master key: exit %d, stderr %q", code, stderr.String())
	}
}
