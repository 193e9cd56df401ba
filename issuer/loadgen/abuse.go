package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// The abuse benchmark: what a flood of failed exchanges costs the issuer
// and the clients it serves. A legitimate client exchanges at a steady rate
// while two attacks run one after the other at full speed: Attempts wrong
// but well-formed secrets for one client id from one source, then Attempts
// random unknown client ids, each from its own source (a botnet, or one
// caller forging source_ip from a trusted proxy). It reports the
// legitimate client's success rate and p99 (quiet and under attack), the
// answers the attacks got, the audit rows and log bytes they caused.

// AbuseOptions configure an abuse run.
type AbuseOptions struct {
	IssuerBin   string
	Attempts    int           // per attack
	Rate        int           // legitimate exchanges per second
	Quiet       time.Duration // legitimate-only measurement before the attacks
	AttackConns int           // connections per attack
}

// AbuseResult is what an abuse run measured.
type AbuseResult struct {
	QuietP99, AttackP99 time.Duration
	// OneSourceP99 and ManySourceP99: the legitimate client's p99 during
	// each attack.
	OneSourceP99, ManySourceP99 time.Duration
	LegitOK, LegitTotal         int
	OneSource, ManySource       map[int]int // attack answers by status
	AttackSeconds               float64
	DeniedRows, Denials         int   // rows, and the denials they stand for
	IssuedRows                  int   // legitimate sessions during the attacks
	LogBytes                    int64 // issuer log written during the attacks
}

// RunAbuse is the abuse benchmark's command line (svcauth-loadgen abuse).
func RunAbuse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("svcauth-loadgen abuse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o AbuseOptions
	fs.StringVar(&o.IssuerBin, "issuer-bin", "build/svcauth", "svcauth binary to start on loopback (its state in a temporary directory)")
	fs.IntVar(&o.Attempts, "attempts", 20000, "failed exchanges per attack")
	fs.IntVar(&o.Rate, "rate", 200, "legitimate exchanges per second")
	fs.DurationVar(&o.Quiet, "quiet", 5*time.Second, "legitimate-only measurement before the attacks")
	fs.IntVar(&o.AttackConns, "attack-conns", 4, "connections per attack")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.Attempts < 100 || o.Rate < 10 || o.Rate > 5000 || o.Quiet < time.Second || o.AttackConns < 1 {
		fmt.Fprintln(stderr, "svcauth-loadgen abuse: want --attempts >= 100, --rate 10..5000, --quiet >= 1s, --attack-conns >= 1, no arguments")
		return 2
	}
	r, err := Abuse(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "svcauth-loadgen abuse: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "svcauth issuer under a failed-exchange flood (loopback, default serve settings, SQLite)\n")
	fmt.Fprintf(stdout, "attacks: %d wrong secrets for one client id from one source, then %d unknown client ids from as many sources; %d connections each, %.1f s in all\n",
		o.Attempts, o.Attempts, o.AttackConns, r.AttackSeconds)
	fmt.Fprintf(stdout, "  one source:    %s\n", statusCounts(r.OneSource))
	fmt.Fprintf(stdout, "  many sources:  %s\n", statusCounts(r.ManySource))
	fmt.Fprintf(stdout, "legitimate client at %d/s: %d of %d succeeded (%.2f %%); p99 quiet %s, under attack %s (%.2f×: %s during the one-source attack, %s during the many-source one)\n",
		o.Rate, r.LegitOK, r.LegitTotal, 100*float64(r.LegitOK)/float64(max(r.LegitTotal, 1)), ms(r.QuietP99), ms(r.AttackP99),
		float64(r.AttackP99)/float64(max(r.QuietP99, 1)), ms(r.OneSourceP99), ms(r.ManySourceP99))
	fmt.Fprintf(stdout, "written during the attacks: %d denial rows standing for %d denials, %d session rows, %d bytes of log\n",
		r.DeniedRows, r.Denials, r.IssuedRows, r.LogBytes)
	code := 0
	if r.LegitOK != r.LegitTotal {
		fmt.Fprintln(stderr, "svcauth-loadgen abuse: the legitimate client did not always succeed")
		code = 1
	}
	if r.AttackP99 > 2*r.QuietP99 {
		fmt.Fprintln(stderr, "svcauth-loadgen abuse: the legitimate client's p99 under attack is over twice the quiet p99")
		code = 1
	}
	return code
}

func statusCounts(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d × %d", m[k], k)
	}
	return s
}

// Abuse runs the abuse benchmark against a fresh issuer.
func Abuse(ctx context.Context, o AbuseOptions) (AbuseResult, error) {
	iss, err := startIssuer(ctx, o.IssuerBin, "sqlite")
	if err != nil {
		return AbuseResult{}, err
	}
	defer iss.stop()
	admin := &adminClient{url: iss.url, key: iss.adminKey, http: &http.Client{Timeout: 30 * time.Second}}
	bodies, err := setup(ctx, admin, 2, "")
	if err != nil {
		return AbuseResult{}, fmt.Errorf("setting up the benchmark objects: %w", err)
	}
	var legit, victim apiv1.ExchangeRequest
	if json.Unmarshal(bodies[0], &legit) != nil || json.Unmarshal(bodies[1], &victim) != nil {
		return AbuseResult{}, errors.New("setup returned unreadable exchange bodies")
	}
	legit.SourceIP = "198.51.100.10"
	host, path, err := splitURL(iss.url + "/v1/exchange")
	if err != nil {
		return AbuseResult{}, err
	}
	request := func(e apiv1.ExchangeRequest) []byte {
		b, _ := json.Marshal(e)
		return []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(b)) + "\r\n\r\n" + string(b))
	}
	// The attacks' requests, built before anything is measured.
	wrong := victim
	wrong.ClientSecret, wrong.SourceIP = legit.ClientSecret, "203.0.113.66" // well-formed, wrong
	oneSource := make([][]byte, o.Attempts)
	manySources := make([][]byte, o.Attempts)
	for i := range o.Attempts {
		oneSource[i] = request(wrong)
		manySources[i] = request(apiv1.ExchangeRequest{ClientID: credential.NewClientID(), ClientSecret: legit.ClientSecret,
			AUD: victim.AUD, SourceIP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
	}

	// The legitimate client: one request per tick on its own connection.
	var (
		mu       sync.Mutex
		lat      []time.Duration
		ok, all  int
		legitErr error
	)
	stopLegit := make(chan struct{})
	legitDone := make(chan struct{})
	go func() {
		defer close(legitDone)
		req := request(legit)
		c, err := dial(host)
		if err != nil {
			legitErr = err
			return
		}
		defer c.close()
		t := time.NewTicker(time.Second / time.Duration(o.Rate))
		defer t.Stop()
		for {
			select {
			case <-stopLegit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			status, err := c.roundTrip(req)
			el := time.Since(start)
			mu.Lock()
			all++
			if err == nil && status == http.StatusOK {
				ok++
				lat = append(lat, el)
			}
			mu.Unlock()
			if err != nil {
				c.close()
				if c, err = dial(host); err != nil {
					legitErr = err
					return
				}
			}
		}
	}()
	// peek returns a copy of the latencies so far.
	peek := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lat)
	}
	// take returns and resets the legitimate client's counts so far.
	take := func() ([]time.Duration, int, int) {
		mu.Lock()
		defer mu.Unlock()
		l, o, a := lat, ok, all
		lat, ok, all = nil, 0, 0
		return l, o, a
	}

	time.Sleep(o.Quiet)
	quiet, _, _ := take()
	logPath := filepath.Join(iss.dir, "issuer.log")
	log0 := fileSize(logPath)
	attackStart := time.Now().UTC()
	r := AbuseResult{}
	var during1, during2 []time.Duration
	if r.OneSource, err = attack(ctx, host, oneSource, o.AttackConns); err == nil {
		during1 = peek()
		r.ManySource, err = attack(ctx, host, manySources, o.AttackConns)
	}
	r.AttackSeconds = time.Since(attackStart).Seconds()
	close(stopLegit)
	<-legitDone
	if err != nil {
		return r, err
	}
	if legitErr != nil {
		return r, fmt.Errorf("legitimate client: %w", legitErr)
	}
	under, lok, lall := take()
	during2 = under[len(during1):]
	r.LegitOK, r.LegitTotal = lok, lall
	r.QuietP99, r.AttackP99 = p99(quiet), p99(slices.Clone(under))
	r.OneSourceP99, r.ManySourceP99 = p99(during1), p99(during2)

	// Listing the audit log ends the aggregation window: every row of the
	// attacks is written before it is counted.
	since := attackStart.Format(time.RFC3339Nano)
	denied, err := auditRows(ctx, admin, domain.EventSessionDenied, since)
	if err != nil {
		return r, err
	}
	issued, err := auditRows(ctx, admin, domain.EventSessionIssued, since)
	if err != nil {
		return r, err
	}
	r.DeniedRows, r.IssuedRows = len(denied), len(issued)
	for _, e := range denied {
		r.Denials += max(e.Count, 1)
	}
	r.LogBytes = fileSize(logPath) - log0
	return r, nil
}

// attack sends every request of reqs over conns connections as fast as
// they are answered, and counts the answers by status.
func attack(ctx context.Context, host string, reqs [][]byte, conns int) (map[int]int, error) {
	var (
		mu       sync.Mutex
		counts   = map[int]int{}
		firstErr error
		wg       sync.WaitGroup
	)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(host)
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
				return
			}
			defer func() { c.close() }()
			local := map[int]int{}
			for i := w; i < len(reqs) && ctx.Err() == nil; i += conns {
				status, err := c.roundTrip(reqs[i])
				if err != nil {
					c.close()
					if c, err = dial(host); err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						return
					}
					continue
				}
				local[status]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return counts, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// auditRows lists every audit row of event since a time, page by page.
func auditRows(ctx context.Context, c *adminClient, event, since string) ([]apiv1.AuditEvent, error) {
	var out []apiv1.AuditEvent
	before := ""
	for {
		q := "/v1/audit?limit=1000&event=" + event + "&since=" + since
		if before != "" {
			q += "&before=" + before
		}
		var page apiv1.List[apiv1.AuditEvent]
		if err := c.do(ctx, http.MethodGet, q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, nil
		}
		before = page.NextCursor
	}
}

func p99(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*99/100)]
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
