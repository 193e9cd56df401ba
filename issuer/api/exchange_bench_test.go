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

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// BenchmarkExchangeHandler measures one warm POST /v1/exchange through the
// server's handler (middleware included), without the network: the part of
// an exchange's cost the issuer's own code decides. The audit writer runs
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

	rd := bytes.NewReader(body)
	req := httptest.NewRequest("POST", "/v1/exchange", rd)
	req.Header.Set("Content-Type", "application/json")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd.Reset(body)
		clear(w.h)
		w.code = 0
		srv.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("exchange: %d", w.code)
		}
	}
}

// discardWriter is a reusable http.ResponseWriter that keeps the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
