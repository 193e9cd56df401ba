package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// TestHTTPServerRefusesUnreadableRequests: requests the server cannot read
// get a precise JSON error from the server itself, and the server goes on.
func TestHTTPServerRefusesUnreadableRequests(t *testing.T) {
	h := newHarness(t)
	if h.base == "" {
		h.serveHTTP()
	}
	addr := strings.TrimPrefix(h.base, "http://")
	big := strings.Repeat("a", api.MaxHeaderBytes)
	for _, c := range []struct {
		name, raw  string
		status     int
		code, want string
		fromServer bool // refused by the server itself, not a handler
	}{
		{"headers over the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "bad_request", "request line and headers larger than 16384 bytes", true},
		{"body over what the server reads", "POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
			http.StatusRequestEntityTooLarge, "payload_too_large", "request body larger than 65536 bytes", true},
		{"exchange body over the handler's limit", "POST /v1/exchange HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat(" ", 70000),
			http.StatusRequestEntityTooLarge, "payload_too_large", "request body larger than 65536 bytes", false},
		{"not HTTP", "NONSENSE\r\n\r\n", http.StatusBadRequest, "bad_request", "malformed HTTP request", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(conn, c.raw) // the server may answer before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apiv1.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != c.status || e.Error != c.code || e.Message != c.want {
				t.Fatalf("got %d %+v, want %d %s %q", resp.StatusCode, e, c.status, c.code, c.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			// The server's own refusals end the connection (the rest of the
			// request was not read); a handler's 413 does not need to.
			if c.fromServer && !resp.Close {
				t.Fatal("the server refused the request but keeps the connection")
			}
		})
	}
	h.call(request{method: "GET", path: "/healthz"}, http.StatusOK, nil)
}

// TestExchangeAnswersAlikeOnBothServers: the fasthttp server answers an
// exchange itself (serveExchange), not through the net/http middleware and
// handler; both must give the same status, headers and body, echo the
// request id, and count the request in the latency metric.
func TestExchangeAnswersAlikeOnBothServers(t *testing.T) {
	h := newHarness(t)
	if h.base == "" {
		h.serveHTTP()
	}
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	wrong := tok
	wrong.ClientSecret = mistyped(tok.ClientSecret)
	for _, c := range []struct {
		name string
		tok  apiv1.Token
	}{{"issued", tok}, {"refused", wrong}} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"client_id":"` + c.tok.ClientID + `","client_secret":"` + c.tok.ClientSecret + `","aud":"` + app.AUD + `"}`
			req := func() *http.Request {
				r := httptest.NewRequest("POST", "/v1/exchange", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Request-Id", "req-"+c.name)
				return r
			}
			std := httptest.NewRecorder()
			h.srv.ServeHTTP(std, req())
			r := req()
			r.RequestURI, r.URL.Scheme, r.URL.Host, r.Host = "", "http", strings.TrimPrefix(h.base, "http://"), ""
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != std.Code {
				t.Fatalf("fasthttp %d, net/http %d", resp.StatusCode, std.Code)
			}
			for name := range std.Header() {
				if name == "Date" || name == "Content-Length" {
					continue
				}
				if resp.Header.Get(name) != std.Header().Get(name) {
					t.Errorf("%s: fasthttp %q, net/http %q", name, resp.Header.Get(name), std.Header().Get(name))
				}
			}
			if resp.Header.Get("X-Request-Id") != "req-"+c.name || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("request id %q, cache-control %q", resp.Header.Get("X-Request-Id"), resp.Header.Get("Cache-Control"))
			}
			if c.name == "issued" { // tokens differ by jti: compare the shape
				var a, b apiv1.ExchangeResponse
				if json.Unmarshal(got, &a) != nil || json.Unmarshal(std.Body.Bytes(), &b) != nil || a.ExpiresAt != b.ExpiresAt || len(a.JWT) != len(b.JWT) {
					t.Fatalf("answers %s and %s", got, std.Body.String())
				}
			} else if string(got) != std.Body.String() {
				t.Fatalf("fasthttp %s, net/http %s", got, std.Body.String())
			}
		})
	}
	metrics := h.do(request{method: "GET", path: "/metrics", key: ptr("")}).Body.String()
	for _, want := range []string{
		`svcauth_http_request_duration_seconds_count{code="200",method="POST",route="POST /v1/exchange"} 2`,
		`svcauth_http_request_duration_seconds_count{code="401",method="POST",route="POST /v1/exchange"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
