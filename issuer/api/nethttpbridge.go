package api

import (
	"bytes"
	"io"
	"net/http"
	"net/url"

	"github.com/valyala/fasthttp"
)

// serveNetHTTP serves c with a net/http handler. Unlike fasthttpadaptor, it
// copies what it takes from the request: the adaptor's strings (method,
// path, headers) point into buffers fasthttp reuses for the next request,
// and svcauth's handlers keep request strings beyond the request (metric
// labels, cache keys, queued audit rows).
func serveNetHTTP(h http.Handler, c *fasthttp.RequestCtx) {
	target := string(c.RequestURI())
	u, err := url.ParseRequestURI(target)
	if err != nil {
		refuseRequest(c, err, 0) // not a body error
		return
	}
	r := &http.Request{
		Method:        string(c.Method()),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, c.Request.Header.Len()),
		Body:          io.NopCloser(bytes.NewReader(c.PostBody())), // read in the handler
		ContentLength: int64(len(c.PostBody())),
		Host:          string(c.Host()),
		RemoteAddr:    c.RemoteAddr().String(),
		RequestURI:    target,
		TLS:           c.TLSConnectionState(),
	}
	if !c.Request.Header.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	for k, v := range c.Request.Header.All() {
		switch name := string(k); name {
		case "Host", "Transfer-Encoding": // in r.Host, and read by fasthttp, as net/http does
		default:
			r.Header.Add(name, string(v))
		}
	}
	defer func() {
		if p := recover(); p != nil {
			// The handlers' middleware answers panics; what reaches here
			// is http.ErrAbortHandler (or a panic outside it): drop the
			// answer, say 500 and close the connection (net/http closes it
			// without an answer; fasthttp would let the panic end the
			// process).
			c.Response.Reset()
			c.SetConnectionClose()
			c.SetStatusCode(http.StatusInternalServerError)
		}
	}()
	writeToFast(c, func(w http.ResponseWriter) { h.ServeHTTP(w, r.WithContext(c)) })
}

// writeToFast lets write, a net/http writer of a whole answer, write c's
// response; it returns the status written. For the net/http handlers, and
// the exchange's errors.
func writeToFast(c *fasthttp.RequestCtx, write func(http.ResponseWriter)) int {
	w := fastResponseWriter{c: c, header: http.Header{}}
	write(&w)
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.status
}

// fastResponseWriter is an http.ResponseWriter over a fasthttp response,
// with net/http's rules: the header map is taken at WriteHeader, and a body
// without a Content-Type gets a sniffed one.
type fastResponseWriter struct {
	c      *fasthttp.RequestCtx
	header http.Header
	status int
	typed  bool // the answer has a Content-Type, or needs none
}

func (w *fastResponseWriter) Header() http.Header { return w.header }

func (w *fastResponseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	for name, values := range w.header {
		for _, v := range values {
			w.c.Response.Header.Add(name, v)
		}
	}
	_, w.typed = w.header["Content-Type"]
	w.c.SetStatusCode(code)
}

func (w *fastResponseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.typed && len(b) > 0 {
		w.typed = true
		w.c.Response.Header.SetContentType(http.DetectContentType(b))
	}
	return w.c.Write(b)
}
