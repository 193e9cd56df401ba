package api

import (
	"net"
	"os"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRefuseRequestTimeout: a request not received within ReadTimeout gets
// a 408 in the API's format (the loopback test would wait 30 s for it).
func TestRefuseRequestTimeout(t *testing.T) {
	var c fasthttp.RequestCtx
	refuseRequest(&c, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
	if got, want := string(c.Response.Body()), `{"error":"bad_request","message":"request not received in time"}`+"\n"; c.Response.StatusCode() != 408 || got != want {
		t.Fatalf("%d %q, want 408 %q", c.Response.StatusCode(), got, want)
	}
	if ct := string(c.Response.Header.ContentType()); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}
