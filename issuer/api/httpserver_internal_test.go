package api

import (
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRefuseRequestTimeout: a request not received within ReadTimeout gets
// a 408 in the API's format (the loopback test would wait 30 s for it).
func TestRefuseRequestTimeout(t *testing.T) {
	var c fasthttp.RequestCtx
	refuseRequest(&c, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, DefaultMaxBodyBytes)
	if got, want := string(c.Response.Body()), `{"error":"bad_request","message":"request not received in time"}`+"\n"; c.Response.StatusCode() != 408 || got != want {
		t.Fatalf("%d %q, want 408 %q", c.Response.StatusCode(), got, want)
	}
	if ct := string(c.Response.Header.ContentType()); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// TestServeNetHTTPSurvivesAbort: a panic that gets past the handlers'
// middleware (http.ErrAbortHandler, which it passes on) ends the request
// with a 500 on a closing connection, not the process.
func TestServeNetHTTPSurvivesAbort(t *testing.T) {
	var c fasthttp.RequestCtx
	c.Request.SetRequestURI("/v1/apps")
	c.Request.Header.SetMethod("GET")
	serveNetHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic(http.ErrAbortHandler)
	}), &c)
	if c.Response.StatusCode() != 500 || !c.Response.ConnectionClose() || len(c.Response.Body()) != 0 {
		t.Fatalf("%d close=%v body %q, want 500, closing, no body", c.Response.StatusCode(), c.Response.ConnectionClose(), c.Response.Body())
	}
}
