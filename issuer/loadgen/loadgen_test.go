package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
)

// inProcessIssuer runs the real API on SQLite behind a loopback listener,
// served as `svcauth serve` serves it (api.HTTPServer).
func inProcessIssuer(t testing.TB) (url, adminKey string) {
	t.Helper()
	ctx := context.Background()
	store := testenv.SQLite(t)
	kr := testenv.Keyring(t, 7)
	srv, err := api.New(api.Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(ctx) })
	key, _, err := api.EnsureInitialAdminKey(ctx, store, kr, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	return serveLoopback(t, srv.HTTPServer(srv)), key
}

// serveLoopback serves hs on a free loopback port until the test ends.
func serveLoopback(t testing.TB, hs *fasthttp.Server) (url string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestRunAgainstARunningIssuer(t *testing.T) {
	url, key := inProcessIssuer(t)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--url", url, "--admin-key", key, "--concurrency", "1,4",
		"--duration", "300ms", "--warmup", "50ms", "--tokens", "3"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 || !strings.Contains(lines[2], "session algorithm HS256") || !strings.Contains(lines[4], "exchanges/s") || !strings.Contains(lines[4], "p99") ||
		!strings.HasPrefix(strings.TrimSpace(lines[5]), "1 ") || !strings.HasPrefix(strings.TrimSpace(lines[6]), "4 ") {
		t.Fatalf("output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "svcauth_cs_") {
		t.Fatal("a client secret in the output")
	}

	// An RS256 application: every exchange signs with RSA, and succeeds.
	out.Reset()
	code = Run(context.Background(), []string{"--url", url, "--admin-key", key, "--concurrency", "2",
		"--duration", "200ms", "--warmup", "0s", "--tokens", "2", "--session-algorithm", "RS256", "--json"}, &out, &errb)
	var rs struct {
		Environment string   `json:"environment"`
		Results     []Result `json:"results"`
	}
	if code != 0 || json.Unmarshal(out.Bytes(), &rs) != nil || len(rs.Results) != 1 || rs.Results[0].Requests == 0 ||
		rs.Results[0].Errors != 0 || !strings.Contains(rs.Environment, "session algorithm RS256") {
		t.Fatalf("RS256 run: exit %d\n%s\n%s", code, out.String(), errb.String())
	}

	// JSON output and a target that cannot be met.
	out.Reset()
	code = Run(context.Background(), []string{"--url", url, "--admin-key", key, "--concurrency", "2",
		"--duration", "200ms", "--warmup", "0s", "--json", "--min-rps", "1e12"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), `"exchanges_per_second"`) || !strings.Contains(errb.String(), "below --min-rps") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--concurrency", "0"},
		{"--concurrency", "a,b"},
		{"--url", "http://127.0.0.1:1"},
		{"--duration", "0s"},
		{"--session-algorithm", "ES256"},
		{"--db", "mysql://x"},
		{"extra"},
	} {
		if code := Run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code := Run(context.Background(), []string{"--issuer-bin", filepath.Join(t.TempDir(), "missing")}, io.Discard, io.Discard); code != 1 {
		t.Errorf("missing binary: exit %d, want 1", code)
	}
}

// BenchmarkExchangeLoopback measures one exchange over loopback HTTP with
// keep-alive, issuer in process (for profiling: go test -bench
// ExchangeLoopback -cpuprofile cpu.out ./issuer/loadgen).
func BenchmarkExchangeLoopback(b *testing.B) {
	url, key := inProcessIssuer(b)
	admin := &adminClient{url: url, key: key, http: &http.Client{}}
	bodies, err := setup(context.Background(), admin, 16, "HS256")
	if err != nil {
		b.Fatal(err)
	}
	host, path, _ := splitURL(url + "/v1/exchange")
	// 32 clients per CPU: 64 on the 2-core machine, like the load test.
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		c, err := dial(host)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.close()
		body := bodies[0]
		req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
		for pb.Next() {
			status, err := c.roundTrip(req)
			if err != nil || status != 200 {
				b.Errorf("exchange: %d %v", status, err)
				return
			}
		}
	})
}

// cpuTime is the process's user + system CPU time (client and server: the
// issuer runs in this process).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBaselineLoopback is BenchmarkExchangeLoopback against a server
// like the issuer's (fasthttp) whose handler only answers a constant of the
// same size: the cost of HTTP on loopback, client and server, on this
// machine.
func BenchmarkBaselineLoopback(b *testing.B) {
	answer := []byte(`{"jwt":"` + strings.Repeat("x", 560) + `","expires_at":1}` + "\n")
	url := serveLoopback(b, &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		c.SetBody(answer)
	}})
	host, path, _ := splitURL(url + "/v1/exchange")
	body := bytes.Repeat([]byte("x"), 200)
	b.ResetTimer()
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		c, err := dial(host)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.close()
		req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
		for pb.Next() {
			if status, err := c.roundTrip(req); err != nil || status != 200 {
				b.Errorf("%d %v", status, err)
				return
			}
		}
	})
}
