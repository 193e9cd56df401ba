// Package loadgen is the issuer's exchange load generator
// (issuer/cmd/svcauth-loadgen): it measures POST /v1/exchange throughput and
// latency over real loopback HTTP with keep-alive, at several numbers of
// concurrent clients, against a real `svcauth serve` process it starts (or
// an issuer already running).
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// Options configure a run.
type Options struct {
	IssuerBin   string        // start `IssuerBin serve` on loopback (when URL is empty)
	URL         string        // or use this running issuer
	AdminKey    string        // its admin key
	Concurrency []int         // client counts, one measurement each
	Duration    time.Duration // per measurement
	Warmup      time.Duration // per measurement, not counted
	Tokens      int           // distinct service tokens the clients use
	MinRPS      float64       // when > 0: fail unless the last level reaches it
	MaxP99      time.Duration // when > 0: fail unless the last level's p99 is below it
	JSON        bool          // print results as JSON
	// SessionAlgorithm is the benchmarked application's: HS256 or RS256.
	SessionAlgorithm string
	// DB is the started issuer's database: "sqlite" (the default), a
	// postgres:// DSN, or "postgres" for a throwaway PostgreSQL server on
	// loopback (Debian's postgresql package).
	DB string
}

// Result is one measurement.
type Result struct {
	Clients    int           `json:"clients"`
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	Seconds    float64       `json:"seconds"`
	Throughput float64       `json:"exchanges_per_second"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	// IssuerCPU is the issuer process's CPU time (user + system) per
	// successful exchange during the measurement, when the load generator
	// started the issuer itself (Linux); 0 otherwise.
	IssuerCPU time.Duration `json:"issuer_cpu_per_exchange_ns,omitempty"`
	// ClientCPU is the load generator's own CPU time per exchange.
	ClientCPU time.Duration `json:"loadgen_cpu_per_exchange_ns"`
}

// Run parses args, runs the benchmark and prints the results; it returns
// the process exit code (0 ok, 1 failure or target missed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("svcauth-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	var levels string
	fs.StringVar(&o.IssuerBin, "issuer-bin", "build/svcauth", "svcauth binary to start on loopback (its state in a temporary directory)")
	fs.StringVar(&o.URL, "url", "", "benchmark this running issuer instead of starting one (needs --admin-key)")
	fs.StringVar(&o.AdminKey, "admin-key", os.Getenv("SVCAUTH_ADMIN_KEY"), "admin key of --url (default $SVCAUTH_ADMIN_KEY)")
	fs.StringVar(&levels, "concurrency", "1,16,64", "comma-separated numbers of concurrent clients")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per concurrency level")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured time before each level")
	fs.IntVar(&o.Tokens, "tokens", 64, "distinct service tokens (clients use them round robin)")
	fs.Float64Var(&o.MinRPS, "min-rps", 0, "exit 1 unless the last level reaches this throughput (0: no check)")
	fs.DurationVar(&o.MaxP99, "max-p99", 0, "exit 1 unless the last level's p99 latency is below this (0: no check)")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	fs.StringVar(&o.SessionAlgorithm, "session-algorithm", "HS256", "session algorithm of the benchmarked application (HS256 or RS256)")
	fs.StringVar(&o.DB, "db", "sqlite", "the started issuer's database: sqlite, postgres (a throwaway server on loopback) or a postgres:// DSN")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: svcauth-loadgen [flags]

Measures POST /v1/exchange of the svcauth issuer: throughput and p50/p90/p99
latency at each --concurrency level, over loopback HTTP/1.1 with keep-alive
(one connection per client). By default it starts --issuer-bin serve on a free
loopback port (default settings, SQLite in a temporary directory), creates an
application, a policy and --tokens service tokens, and runs every level.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "svcauth-loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			fmt.Fprintf(stderr, "svcauth-loadgen: --concurrency %q: want numbers from 1 to 4096\n", levels)
			return 2
		}
		o.Concurrency = append(o.Concurrency, n)
	}
	if o.DB != "sqlite" && o.DB != "postgres" && !postgres.IsDSN(o.DB) {
		fmt.Fprintln(stderr, "svcauth-loadgen: --db must be sqlite, postgres or a postgres:// DSN")
		return 2
	}
	if o.SessionAlgorithm != "HS256" && o.SessionAlgorithm != "RS256" {
		fmt.Fprintln(stderr, "svcauth-loadgen: --session-algorithm must be HS256 or RS256")
		return 2
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Tokens < 1 || (o.URL != "" && o.AdminKey == "") {
		fmt.Fprintln(stderr, "svcauth-loadgen: --duration must be positive, --warmup not negative, --tokens at least 1, and --url needs --admin-key")
		return 2
	}

	results, env, err := Bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "svcauth-loadgen: %v\n", err)
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"environment": env, "results": results})
	} else {
		fmt.Fprintf(stdout, "svcauth issuer: POST /v1/exchange over loopback HTTP/1.1 keep-alive\n%s\n\n", env)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "clients\trequests\terrors\texchanges/s\tp50\tp90\tp99\tmax\tCPU/exchange: issuer\tloadgen\t")
		for _, r := range results {
			cpu := "-"
			if r.IssuerCPU > 0 {
				cpu = us(r.IssuerCPU)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Clients, r.Requests, r.Errors, r.Throughput,
				ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), cpu, us(r.ClientCPU))
		}
		tw.Flush()
	}
	last := results[len(results)-1]
	code := 0
	if last.Errors > 0 {
		fmt.Fprintf(stderr, "svcauth-loadgen: %d failed exchanges\n", last.Errors)
		code = 1
	}
	if o.MinRPS > 0 && last.Throughput < o.MinRPS {
		fmt.Fprintf(stderr, "svcauth-loadgen: %.0f exchanges/s at %d clients, below --min-rps %.0f\n", last.Throughput, last.Clients, o.MinRPS)
		code = 1
	}
	if o.MaxP99 > 0 && last.P99 >= o.MaxP99 {
		fmt.Fprintf(stderr, "svcauth-loadgen: p99 %s at %d clients, not below --max-p99 %s\n", ms(last.P99), last.Clients, o.MaxP99)
		code = 1
	}
	return code
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

func us(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + "µs" }

// Bench sets up (or reaches) the issuer and measures each level. env
// describes where it ran.
func Bench(ctx context.Context, o Options, logw io.Writer) ([]Result, string, error) {
	url, adminKey := strings.TrimRight(o.URL, "/"), o.AdminKey
	var cpu func() (time.Duration, bool)
	env := fmt.Sprintf("load generator: GOMAXPROCS=%d, %d CPUs, %s/%s, %s", runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if url == "" {
		db, backend := o.DB, "SQLite"
		switch {
		case db == "postgres":
			dsn, stop, err := pgtest.StartServer()
			if err != nil {
				return nil, "", fmt.Errorf("throwaway PostgreSQL server: %w", err)
			}
			defer stop()
			db, backend = dsn, "PostgreSQL (throwaway server on loopback, fsync off)"
		case postgres.IsDSN(db):
			backend = "PostgreSQL " + postgres.Redact(db)
		}
		iss, err := startIssuer(ctx, o.IssuerBin, db)
		if err != nil {
			return nil, "", err
		}
		defer iss.stop()
		url, adminKey = iss.url, iss.adminKey
		cpu = func() (time.Duration, bool) { return processCPU(iss.cmd.Process.Pid) }
		env = "issuer: " + o.IssuerBin + " serve (separate process, default settings, " + backend + ")\n" + env
	}
	alg := o.SessionAlgorithm
	if alg == "" {
		alg = "HS256"
	}
	env += "\napplication: session algorithm " + alg
	admin := &adminClient{url: url, key: adminKey, http: &http.Client{Timeout: 30 * time.Second}}
	bodies, err := setup(ctx, admin, o.Tokens, alg)
	if err != nil {
		return nil, "", fmt.Errorf("setting up the benchmark objects: %w", err)
	}
	var results []Result
	for _, n := range o.Concurrency {
		r, err := measure(ctx, url+"/v1/exchange", bodies, n, o.Warmup, o.Duration, cpu)
		if err != nil {
			return nil, "", err
		}
		results = append(results, r)
		if logw != nil {
			fmt.Fprintf(logw, "svcauth-loadgen: %d clients: %.0f exchanges/s, p99 %s\n", n, r.Throughput, ms(r.P99))
		}
	}
	return results, env, nil
}

type issuerProc struct {
	url, adminKey string
	cmd           *exec.Cmd
	dir           string
}

func (p *issuerProc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}

func startIssuer(ctx context.Context, bin, db string) (*issuerProc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("issuer binary: %w (build it with make build, or pass --issuer-bin or --url)", err)
	}
	dir, err := os.MkdirTemp("", "svcauth-loadgen-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "issuer.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", addr,
		"--master-key-file", filepath.Join(dir, "master.key"),
		"--admin-key-file", filepath.Join(dir, "admin.key"))
	if postgres.IsDSN(db) {
		cmd.Env = append(os.Environ(), "SVCAUTH_DB="+db) // not on the command line: it may hold a password
	} else {
		cmd.Args = append(cmd.Args, "--db", filepath.Join(dir, "svcauth.db"))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close()
	p := &issuerProc{url: "http://" + addr, cmd: cmd, dir: dir}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("the issuer did not become healthy at %s", p.url)
		}
		time.Sleep(50 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(dir, "admin.key"))
	if err != nil {
		p.stop()
		return nil, err
	}
	p.adminKey = strings.TrimSpace(string(key))
	return p, nil
}

type adminClient struct {
	url, key string
	http     *http.Client
}

func (c *adminClient) do(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// setup creates an application, a Service Auth policy and n tokens, and
// returns one exchange body per token.
func setup(ctx context.Context, c *adminClient, n int, alg string) ([][]byte, error) {
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	var app apiv1.App
	if err := c.do(ctx, http.MethodPost, "/v1/apps", apiv1.CreateAppRequest{Name: "loadgen-" + suffix, Domains: []string{"loadgen.invalid"},
		SessionAlgorithm: alg}, &app); err != nil {
		return nil, err
	}
	var pol apiv1.Policy
	if err := c.do(ctx, http.MethodPost, "/v1/apps/"+app.ID+"/policies", apiv1.CreatePolicyRequest{
		Name: "loadgen", Decision: string(domain.DecisionNonIdentity), Include: []apiv1.Rule{domain.RuleAnyValidServiceToken()},
	}, &pol); err != nil {
		return nil, err
	}
	bodies := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		var tok apiv1.Token
		if err := c.do(ctx, http.MethodPost, "/v1/service-tokens", apiv1.CreateTokenRequest{Name: fmt.Sprintf("loadgen-%s-%d", suffix, i)}, &tok); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: app.AUD, SourceIP: "127.0.0.1"})
		bodies = append(bodies, b)
	}
	// What the report says is benchmarked is what the issuer signs with.
	var ex apiv1.ExchangeResponse
	if err := c.do(ctx, http.MethodPost, "/v1/exchange", json.RawMessage(bodies[0]), &ex); err != nil {
		return nil, err
	}
	if got := signedWith(ex.JWT); got != alg {
		return nil, fmt.Errorf("the issuer signs the benchmarked application's sessions with %q, not %s", got, alg)
	}
	return bodies, nil
}

// signedWith returns the alg of jwt's header ("" when it has none).
func signedWith(jwt string) string {
	header, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	json.Unmarshal(raw, &h)
	return h.Alg
}

// measure runs n clients for warmup + d and reports the requests that
// started after the warm-up and finished within d. Each client is one
// keep-alive HTTP/1.1 connection driven by a minimal client (like wrk): a
// pre-built request and a small response parser, so that the load
// generator, which shares the machine with the issuer, costs as little CPU
// as possible.
func measure(ctx context.Context, url string, bodies [][]byte, n int, warmup, d time.Duration, cpu func() (time.Duration, bool)) (Result, error) {
	host, path, err := splitURL(url)
	if err != nil {
		return Result{}, err
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		lat       = make([][]time.Duration, n)
		errs      = make([]int, n)
		firstErr  atomic.Value
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			samples := make([]time.Duration, 0, 1<<16)
			body := bodies[w%len(bodies)]
			req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
			var c *clientConn
			for !stop.Load() && ctx.Err() == nil {
				counted := measuring.Load()
				start := time.Now()
				var status int
				var err error
				if c == nil {
					c, err = dial(host)
				}
				if err == nil {
					status, err = c.roundTrip(req)
				}
				if err != nil && c != nil {
					c.close()
					c = nil
				}
				el := time.Since(start)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				if !counted || stop.Load() {
					continue
				}
				if err != nil {
					errs[w]++
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				samples = append(samples, el)
			}
			if c != nil {
				c.close()
			}
			lat[w] = samples
		}(w)
	}
	time.Sleep(warmup)
	var cpu0 time.Duration
	cpuOK := cpu != nil
	if cpuOK {
		cpu0, cpuOK = cpu()
	}
	self0 := selfCPU()
	measuring.Store(true)
	began := time.Now()
	time.Sleep(d)
	stop.Store(true)
	elapsed := time.Since(began)
	self1 := selfCPU()
	var cpu1 time.Duration
	if cpuOK {
		cpu1, cpuOK = cpu()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}

	var all []time.Duration
	r := Result{Clients: n, Seconds: elapsed.Seconds()}
	for w := range lat {
		all = append(all, lat[w]...)
		r.Errors += errs[w]
	}
	if len(all) == 0 {
		if e, _ := firstErr.Load().(error); e != nil {
			return r, fmt.Errorf("%d clients: no successful exchange; first error: %v", n, e)
		}
		return r, fmt.Errorf("%d clients: no exchange completed", n)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	r.Requests = len(all) + r.Errors
	r.Throughput = float64(len(all)) / elapsed.Seconds()
	r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), all[len(all)-1]
	if cpuOK {
		r.IssuerCPU = (cpu1 - cpu0) / time.Duration(len(all))
	}
	r.ClientCPU = (self1 - self0) / time.Duration(len(all))
	return r, nil
}

// processCPU returns the user + system CPU time of process pid (Linux,
// from /proc; clock ticks of 10ms).
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

func splitURL(u string) (host, path string, err error) {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return "", "", fmt.Errorf("%s: only http:// URLs can be benchmarked", u)
	}
	host, path, _ = strings.Cut(rest, "/")
	return host, "/" + path, nil
}

// clientConn is one keep-alive HTTP/1.1 connection.
type clientConn struct {
	conn     net.Conn
	r        *bufio.Reader
	deadline time.Time // of conn: a round trip must end before it
}

func dial(host string) (*clientConn, error) {
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &clientConn{conn: conn, r: bufio.NewReaderSize(conn, 8192)}, nil
}

func (c *clientConn) close() { c.conn.Close() }

// roundTrip writes req and reads one response, discarding its body. It
// understands Content-Length and chunked bodies.
func (c *clientConn) roundTrip(req []byte) (int, error) {
	// A stuck request fails after 9 to 10 s. Moving the deadline on every
	// request costs the load generator timer work that the issuer on the
	// same CPUs would then miss.
	if now := time.Now(); c.deadline.Sub(now) < 9*time.Second {
		c.deadline = now.Add(10 * time.Second)
		c.conn.SetDeadline(c.deadline)
	}
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			line, err = c.r.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("bad chunk size %q", line)
			}
			if _, err := c.r.Discard(int(size) + 2); err != nil {
				return 0, err
			}
			if size == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := c.r.Discard(length); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("response without a length")
	}
	if closing {
		return status, errors.New("server closed the connection")
	}
	return status, nil
}

// String formats a result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%d clients: %d requests, %d errors, %.0f/s, p50 %s, p90 %s, p99 %s, max %s",
		r.Clients, r.Requests, r.Errors, r.Throughput, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

// selfCPU returns this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
