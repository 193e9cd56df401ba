package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// TestTwoIssuerReplicasOnPostgres: two issuer processes on one PostgreSQL
// database behind one issuer cluster of two endpoints (the dev proxy, or
// Envoy, spreads the filter's callouts over both):
//   - a token created on A exchanges on B, directly and through the proxy;
//   - a token deleted on B is refused by the filter within sync period + 1 s
//     (its sync polls reach either replica);
//   - A is killed with SIGKILL in the middle of a bounded load of exchanges,
//     failed exchanges and admin writes: no request gets a 200 it should
//     not, requests after the failover succeed, and every write either
//     replica acknowledged is there afterwards.
func TestTwoIssuerReplicasOnPostgres(t *testing.T) {
	if targetSkip != "" {
		t.Skip(targetSkip)
	}
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	state := t.TempDir() // shared: both replicas use its master key
	start := func(name string) *stack.Issuer {
		// Throttling off: the load's deliberate failures would otherwise
		// throttle the loopback source the good requests share.
		iss, err := stack.StartIssuer(ctx, stack.IssuerOptions{BinDir: binDir, StateDir: state, DB: dsn,
			Args: []string{"--throttle-burst", "0"}})
		if err != nil {
			t.Fatalf("replica %s: %v", name, err)
		}
		t.Cleanup(func() {
			iss.Stop()
			if t.Failed() {
				t.Logf("replica %s output:\n%s", name, iss.Output())
			}
		})
		return iss
	}
	a := start("A")
	b := start("B") // started after A: A made the master key file
	// B did not print an admin key (A made the first one); A's works on B.
	if _, stderr, code, err := b.RunCLI(ctx, "admin-keys", "list"); err != nil || code != 0 {
		t.Fatalf("A's admin key on B: exit %d %v %s", code, err, stderr)
	}

	app, err := a.CreateApp(ctx, "e2e-app", "app.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AdmitServiceTokens(ctx, app.ID, "any_valid_service_token"); err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, ctx, a, "made-on-a")
	if code, _ := exchangeAt(ctx, b.URL, tok, app.Aud); code != http.StatusOK {
		t.Fatalf("a token created on A exchanged on B: %d", code)
	}

	config := filepath.Join(t.TempDir(), "filter.json")
	if err := a.WriteFilterConfig(ctx, app.ID, "svcauth-issuer", config); err != nil {
		t.Fatal(err)
	}
	setSyncPeriod(t, config)
	e := &env{ctx: ctx, issuer: a, upstream: &stack.EchoUpstream{}}
	proxy, err := stack.StartProxy(ctx, target, stack.DevProxyOptions{BinDir: binDir, PluginConfig: config,
		Upstream: e.syncUpstreamURL(t), Clusters: map[string]string{"svcauth-issuer": a.URL + "," + b.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Stop()
		if t.Failed() {
			t.Logf("proxy output:\n%s", proxy.Output())
		}
	})
	jwt := syncSession(t, e, proxy, tok)

	// Delete on B; the filter refuses the session within a sync period + 1 s.
	deleted := time.Now()
	if _, stderr, code, err := b.RunCLI(ctx, "tokens", "delete", tok.ID); err != nil || code != 0 {
		t.Fatalf("delete on B: %d %v %s", code, err, stderr)
	}
	if took := syncUntilRevoked(t, e, proxy, jwt, deleted); took > syncPeriod+time.Second {
		t.Fatalf("revocation through B took %s, want within %s", took, syncPeriod+time.Second)
	}

	// Failover under load.
	good, other := mustToken(t, ctx, a, "good"), mustToken(t, ctx, a, "other")
	wrong := good
	wrong.ClientSecret = other.ClientSecret // a real secret, of another token
	// Credentials the filter has never seen, one per request: each one is
	// an exchange (a pair seen before is served from the filter's cache).
	var fresh []stack.Token
	for i := 0; i < 600; i++ {
		fresh = append(fresh, createToken(t, ctx, a, fmt.Sprintf("fresh-%d", i)))
	}
	var nextFresh atomic.Int64
	var (
		bad, served, failed atomic.Int64
		servedAfterKill     atomic.Int64
		killedAt            atomic.Int64
		mu                  sync.Mutex
		acknowledged        []string // names of tokens a replica answered 201 for
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				time.Sleep(10 * time.Millisecond) // a bounded load
				switch i % 3 {
				case 0: // must never pass
					if code, _ := proxyStatus(ctx, proxy.URL, syncCreds(wrong)); code == http.StatusOK {
						bad.Add(1)
					}
					if code, _ := proxyStatus(ctx, proxy.URL, syncCookie(jwt)); code == http.StatusOK {
						bad.Add(1)
					}
				case 1: // a pair never seen, so that it exchanges
					k := int(nextFresh.Add(1)) - 1
					if k >= len(fresh) {
						continue
					}
					if code, _ := proxyStatus(ctx, proxy.URL, syncCreds(fresh[k])); code == http.StatusOK {
						served.Add(1)
						if killedAt.Load() != 0 {
							servedAfterKill.Add(1)
						}
					} else {
						failed.Add(1)
					}
				case 2: // admin writes, alternating replicas
					iss := []*stack.Issuer{a, b}[i%2]
					name := fmt.Sprintf("load-%d-%d", w, i)
					if st, _ := createTokenStatus(ctx, iss, name); st == http.StatusCreated {
						mu.Lock()
						acknowledged = append(acknowledged, name)
						mu.Unlock()
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	a.Kill()
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	time.Sleep(2 * time.Second)
	stopLoad()
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d requests got a 200 they should not have", bad.Load())
	}
	// A killed replica costs only the callouts in flight to it and those
	// that dialled it before the first refusal ejected it, at most two per
	// worker: after that, every exchange goes to B.
	if f := failed.Load(); f > 8 {
		t.Fatalf("%d exchanges failed while A died, want at most two per worker (8)", f)
	}
	if servedAfterKill.Load() == 0 || int(nextFresh.Load()) >= len(fresh) {
		t.Fatalf("the load served %d exchanges (%d after the kill) and ran out of fresh credentials: %v",
			served.Load(), servedAfterKill.Load(), int(nextFresh.Load()) >= len(fresh))
	}
	// After the failover: fresh credentials, each needing an exchange,
	// all succeed through B.
	for i := 0; i < 10; i++ {
		fresh := createToken(t, ctx, b, fmt.Sprintf("after-%d", i))
		if code, reason := proxyStatus(ctx, proxy.URL, syncCreds(fresh)); code != http.StatusOK {
			t.Fatalf("exchange %d after the failover (%s after the kill): %d %s", i, time.Since(killed).Round(time.Millisecond), code, reason)
		}
	}
	var names []struct {
		Name string `json:"name"`
	}
	if err := b.CLI(ctx, &names, "tokens", "list"); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n.Name] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range acknowledged {
		if !have[n] {
			t.Fatalf("token %s was acknowledged (201) and is gone", n)
		}
	}
	t.Logf("failover: %d exchanges served (%d after the kill), %d failed while A died, %d acknowledged writes all kept",
		served.Load(), servedAfterKill.Load(), failed.Load(), len(acknowledged))
}
