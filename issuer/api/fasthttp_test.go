package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
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
	}{
		{"headers over the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "bad_request", "request line and headers larger than 16384 bytes"},
		{"body over what the server reads", "POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
			http.StatusRequestEntityTooLarge, "payload_too_large", "request body too large"},
		{"exchange body over the handler's limit", "POST /v1/exchange HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat(" ", 70000),
			http.StatusRequestEntityTooLarge, "payload_too_large", "request body larger than 65536 bytes"},
		{"not HTTP", "NONSENSE\r\n\r\n", http.StatusBadRequest, "bad_request", "malformed HTTP request"},
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
		})
	}
	h.call(request{method: "GET", path: "/healthz"}, http.StatusOK, nil)
}
