package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/logbuf"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

const issuerURL = "https://issuer.test"

type harness struct {
	t        *testing.T
	srv      *api.Server
	store    storage.Storage
	dbPath   string
	keys     *keys.Keyring
	reg      *prometheus.Registry
	logs     *logbuf.Buffer
	adminKey string

	*testenv.Clock

	// base is the URL of the fasthttp server (api.HTTPServer) that do
	// sends requests to in the second run of the tests (TestMain); empty
	// in the first, where do calls Server.ServeHTTP.
	base   string
	client *http.Client
}

// viaHTTPServer makes every harness send its requests over loopback HTTP to
// api.HTTPServer, the server `svcauth serve` runs, instead of calling the
// net/http handler: TestMain runs the package's tests once each way.
var viaHTTPServer bool

func TestMain(m *testing.M) {
	if code := m.Run(); code != 0 {
		pgtest.Stop()
		os.Exit(code)
	}
	fmt.Println("api: the tests again, every request over HTTP through api.HTTPServer (fasthttp)")
	viaHTTPServer = true
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// serveHTTPServer serves srv with api.HTTPServer (fasthttp, what `svcauth
// serve` runs) on a loopback port and returns its URL.
func serveHTTPServer(t testing.TB, srv *api.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(srv)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Shutdown() })
	return "http://" + ln.Addr().String()
}

// serveLoopback serves srv on a loopback port, through net/http on the
// first pass and api.HTTPServer on the second (viaHTTPServer), and returns
// its URL: for tests of several servers, which the harness does not cover.
func serveLoopback(t testing.TB, srv *api.Server) string {
	t.Helper()
	if viaHTTPServer {
		return serveHTTPServer(t, srv)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil, nil) }

// newHarnessWith is newHarness with wrap, when not nil, between the server
// and SQLite (a store that counts calls), and cfg, when not nil, applied to
// the server's configuration.
func newHarnessWith(t *testing.T, wrap func(storage.Storage) storage.Storage, cfg func(*api.Config)) *harness {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "svcauth.db")
	store, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	kr := testenv.Keyring(t, 42)
	h := &harness{t: t, store: store, dbPath: dbPath, keys: kr, reg: prometheus.NewRegistry(), logs: &logbuf.Buffer{},
		Clock: testenv.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC))}
	var served storage.Storage = store
	if wrap != nil {
		served = wrap(store)
	}
	c := api.Config{Storage: served, Keys: kr, IssuerURL: issuerURL, Now: h.Now, Registry: h.reg,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg != nil {
		cfg(&c)
	}
	if h.srv, err = api.New(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close(context.Background()) })
	key, generated, err := api.EnsureInitialAdminKey(context.Background(), store, kr, h.Now(), "")
	if err != nil || !generated || !keys.ValidAdminKey(key) {
		t.Fatalf("initial admin key: %q %v %v", key, generated, err)
	}
	h.adminKey = key
	if viaHTTPServer {
		h.serveHTTP()
	}
	return h
}

// serveHTTP starts api.HTTPServer for h on a loopback port.
func (h *harness) serveHTTP() {
	h.base = serveHTTPServer(h.t, h.srv)
	h.client = &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request describes one call; body is a string sent as is, or a value
// sent as JSON.
type request struct {
	method, path string
	body         any
	key          *string // admin key; nil means the harness's
	header       map[string]string
	// declared, over HTTP, sends only the headers of body, declaring its
	// length: the server refuses a body over its own limit on the length
	// alone and closes the connection, and a client still writing the
	// body then races the close (a reset, not an answer).
	declared bool
}

func (h *harness) do(r request) *httptest.ResponseRecorder {
	h.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	key := h.adminKey
	if r.key != nil {
		key = *r.key
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	if h.base == "" {
		h.srv.ServeHTTP(rec, req)
		return rec
	}
	if r.declared {
		return h.doDeclared(req)
	}
	req.RequestURI, req.URL.Scheme, req.URL.Host, req.Host = "", "http", strings.TrimPrefix(h.base, "http://"), ""
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s over HTTP: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(rec.Body, resp.Body); err != nil {
		h.t.Fatalf("%s %s over HTTP: reading the body: %v", r.method, r.path, err)
	}
	return rec
}

// doDeclared sends req's line and headers, with its body's length but not
// its body, and records the answer.
func (h *harness) doDeclared(req *http.Request) *httptest.ResponseRecorder {
	h.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: issuer\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), req.ContentLength)
	req.Header.Write(conn)
	io.WriteString(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		h.t.Fatalf("%s %s over HTTP, headers only: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	rec := httptest.NewRecorder()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	io.Copy(rec.Body, resp.Body)
	return rec
}

// call does r, checks the status, and decodes the JSON answer into out
// (when not nil).
func (h *harness) call(r request, wantStatus int, out any) *httptest.ResponseRecorder {
	h.t.Helper()
	rec := h.do(r)
	if rec.Code != wantStatus {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, rec.Code, wantStatus, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && r.path != "/metrics" && rec.Code != 204 {
		h.t.Fatalf("%s %s: content type %q", r.method, r.path, ct)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", r.method, r.path, rec.Body.String(), err)
		}
	}
	return rec
}

func (h *harness) createToken(name, duration string) apiv1.Token {
	h.t.Helper()
	var tok apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens", body: apiv1.CreateTokenRequest{Name: name, Duration: duration}}, 201, &tok)
	return tok
}

func (h *harness) createApp(name string, sessionDuration string) apiv1.App {
	h.t.Helper()
	var app apiv1.App
	h.call(request{method: "POST", path: "/v1/apps", body: apiv1.CreateAppRequest{Name: name, Domains: []string{name + ".example.com"}, SessionDuration: sessionDuration}}, 201, &app)
	return app
}

func (h *harness) createPolicy(appID string, decision domain.Decision, include []domain.Rule, exclude []domain.Rule) apiv1.Policy {
	h.t.Helper()
	var p apiv1.Policy
	h.call(request{method: "POST", path: "/v1/apps/" + appID + "/policies",
		body: apiv1.CreatePolicyRequest{Name: string(decision) + " policy", Decision: string(decision), Include: include, Exclude: exclude}}, 201, &p)
	return p
}

func (h *harness) exchange(tok apiv1.Token, aud string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: "POST", path: "/v1/exchange", key: ptr(""),
		body: apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: aud, SourceIP: "198.51.100.7:4431", RequestID: "req-123"}})
}

func (h *harness) audit(filter string) []apiv1.AuditEvent {
	h.t.Helper()
	var list apiv1.List[apiv1.AuditEvent]
	h.call(request{method: "GET", path: "/v1/audit?" + filter}, 200, &list)
	return list.Items
}

func ptr[T any](v T) *T { return &v }

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) apiv1.Error {
	t.Helper()
	var e apiv1.Error
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return e
}

// mistyped returns secret with its last character changed to another one.
// (Appending a fixed character instead fails one run in 62: when the secret
// already ends with it, nothing changes.)
func mistyped(secret string) string {
	c := byte('x')
	if secret[len(secret)-1] == c {
		c = 'y'
	}
	return secret[:len(secret)-1] + string(c)
}
