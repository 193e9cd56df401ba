package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// BenchmarkExchangeHandler measures one warm POST /v1/exchange through the
// handler of the issuer's HTTP server (request id, metric and all), without
// the network: the part of an exchange's cost the issuer's own code decides. The audit writer runs
// in the background as in production.
func BenchmarkExchangeHandler(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "svcauth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	kr, _ := keys.New(bytes.Repeat([]byte{7}, keys.MasterKeySize))
	srv, err := api.New(api.Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close(ctx)
	key, _, err := api.EnsureInitialAdminKey(ctx, store, kr, time.Now(), "")
	if err != nil {
		b.Fatal(err)
	}
	call := func(method, path string, in, out any) {
		body, _ := json.Marshal(in)
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			b.Fatal(err)
		}
	}
	var app apiv1.App
	call("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "bench", Domains: []string{"bench.example.com"}}, &app)
	var pol apiv1.Policy
	call("POST", "/v1/apps/"+app.ID+"/policies", apiv1.CreatePolicyRequest{Name: "bench", Decision: string(domain.DecisionNonIdentity),
		Include: []apiv1.Rule{domain.RuleAnyValidServiceToken()}}, &pol)
	var tok apiv1.Token
	call("POST", "/v1/service-tokens", apiv1.CreateTokenRequest{Name: "bench"}, &tok)
	body, _ := json.Marshal(apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: app.AUD, SourceIP: "127.0.0.1"})

	// Through the handler of the server `svcauth serve` runs (fasthttp:
	// the exchange is answered by serveExchange, not by net/http).
	handler := srv.HTTPServer(srv).Handler
	var c fasthttp.RequestCtx
	c.Init(&fasthttp.Request{}, nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Request.Reset()
		c.Request.Header.SetMethod("POST")
		c.Request.SetRequestURI("/v1/exchange")
		c.Request.Header.SetContentType("application/json")
		c.Request.SetBody(body)
		c.Response.Reset()
		handler(&c)
		if c.Response.StatusCode() != http.StatusOK {
			b.Fatalf("exchange: %d %s", c.Response.StatusCode(), c.Response.Body())
		}
	}
}
