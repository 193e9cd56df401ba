package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// The issuer listens with fasthttp, not net/http. net/http's own work per
// request (a goroutine that reads ahead on the connection, a deadline reset,
// header maps) cost about 30 µs of CPU per exchange on the 2-core
// development machine, a third of the issuer's CPU per exchange, and with the
// load generator on the same cores that decided the exchange's p99 at 64
// clients (docs/performance.md). POST /v1/exchange, the one endpoint called
// at high rates, is served by serveExchange below, with the same middleware
// steps (request id, latency metric, log line, panic guard); every other
// route goes to the net/http handlers unchanged (serveNetHTTP), as their
// rates do not make the conversion's cost matter.

const exchangePath = "/v1/exchange"

// The exchange's headers as fasthttp takes them without work: names already
// canonical, as bytes (Header.Set canonicalises a copy of the name).
var (
	headerRequestID          = []byte("X-Request-Id")
	exchangeHeadersCanonical = func() (kv [len(jsonHeaders)][2][]byte) {
		for i, h := range jsonHeaders {
			kv[i] = [2][]byte{[]byte(h.name), []byte(h.value[0])} // canonical literals
		}
		return kv
	}()
)

// Limits of the issuer's HTTP server.
const (
	// readTimeout bounds reading one request, headers and body;
	// writeTimeout writing its answer.
	readTimeout  = 30 * time.Second
	writeTimeout = 30 * time.Second
	// IdleTimeout bounds a keep-alive connection waiting for its next
	// request. A proxy must close its idle connections to the issuer sooner
	// (envoy/envoy.yaml, the Istio DestinationRule; the envoy tests check
	// both), or a callout may go out on a connection the issuer is closing.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's line and headers (answered 431
	// above it): svcauth's clients send a few hundred bytes.
	MaxHeaderBytes = 16 << 10
	// maxReadBody bounds the bodies the server reads: handlers refuse those
	// over their own limit (64 KiB) with their precise error, and the
	// server refuses larger ones itself (413, closing the connection).
	maxReadBody = 1 << 20
)

// HTTPServer returns the issuer's HTTP/1.1 server around
// fastHTTPHandler(next). It logs its own errors (a broken connection, not
// requests) to the Server's logger at warning level.
func (s *Server) HTTPServer(next http.Handler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      s.fastHTTPHandler(next),
		ErrorHandler: func(c *fasthttp.RequestCtx, err error) { refuseRequest(c, err, s.maxBody) },
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  IdleTimeout,
		// fasthttp reads the request line and headers into this buffer.
		ReadBufferSize:     MaxHeaderBytes,
		MaxRequestBodySize: max(maxReadBody, int(s.maxBody)),
		// As net/http: no Server header, and no Content-Type on answers
		// without one (a 204, a 304).
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		Logger:                slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// refuseRequest answers a request the server could not read, in the API's
// JSON error format; maxBody is the handlers' body limit, which an oversize
// body is told about whichever layer refused it.
func refuseRequest(c *fasthttp.RequestCtx, err error, maxBody int64) {
	var (
		small   *fasthttp.ErrSmallBuffer
		timeout interface{ Timeout() bool }
		code    = domain.EInvalid
		status  = http.StatusBadRequest
		msg     = "malformed HTTP request"
	)
	switch {
	case errors.As(err, &small):
		status, msg = http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request line and headers larger than %d bytes", MaxHeaderBytes)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		code, status, msg = domain.ETooLarge, http.StatusRequestEntityTooLarge, tooLargeMessage(maxBody)
	case errors.As(err, &timeout) && timeout.Timeout():
		status, msg = http.StatusRequestTimeout, "request not received in time"
	}
	writeToFast(c, func(w http.ResponseWriter) {
		writeJSON(w, status, apiv1.Error{Error: code, Message: msg})
	})
}

// fastHTTPHandler returns the listener's handler: POST /v1/exchange served
// here, anything else by next (the net/http tree that holds this Server
// under "/", and the dashboard).
func (s *Server) fastHTTPHandler(next http.Handler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		// The path as sent: a path net/http would clean (and redirect)
		// goes to net/http.
		if c.IsPost() && string(c.Request.URI().PathOriginal()) == exchangePath {
			s.serveExchange(c)
			return
		}
		serveNetHTTP(next, c)
	}
}

// serveExchange is the middleware and handleExchange for fasthttp: it
// answers exactly as they do (the tests compare the two).
func (s *Server) serveExchange(c *fasthttp.RequestCtx) {
	start := time.Now()
	ctx, rl := s.beginRequest(c, string(c.Request.Header.Peek("X-Request-Id")))
	c.Response.Header.SetCanonical(headerRequestID, []byte(rl.id))
	status := 0
	defer func() {
		if p := recover(); p != nil {
			rl.get().Error("panic in handler", "panic", p, "route", exchangeRoute)
			if status == 0 {
				c.Response.ResetBody()
				status = s.writeExchangeError(ctx, c, domain.Errorf(domain.EInternal, "internal error"))
			}
		}
		if elapsed, level, ok := s.endRequest(ctx, http.MethodPost, exchangeRoute, status, start); ok {
			s.logRequest(ctx, rl, level, http.MethodPost, exchangePath, exchangeRoute, status, elapsed, c.RemoteAddr().String())
		}
	}()

	var buf [session.MaxTokenLength + 64]byte // the answer: a token and a number
	peer, _ := netip.AddrFromSlice(c.RemoteIP())
	answer, err := s.exchangeBody(ctx, c.PostBody(), buf[:0], peer)
	if err != nil {
		status = s.writeExchangeError(ctx, c, err)
		return
	}
	for _, kv := range exchangeHeadersCanonical {
		c.Response.Header.SetCanonical(kv[0], kv[1])
	}
	c.Response.SetBody(answer) // copies
	status = http.StatusOK
}

// writeExchangeError answers err as writeError does, and returns the status.
func (s *Server) writeExchangeError(ctx context.Context, c *fasthttp.RequestCtx, err error) int {
	return writeToFast(c, func(w http.ResponseWriter) {
		writeErrorFor(w, http.MethodPost, exchangePath, s.logger(ctx), err)
	})
}
