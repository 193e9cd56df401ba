package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// replica is one issuer on the shared PostgreSQL database.
type replica struct {
	url string
	srv *api.Server
	db  *postgres.DB
}

func startReplica(t *testing.T, dsn string, listen bool) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// A cache TTL far longer than the test: only a notification can make
	// a replica see another's change in time.
	srv, err := api.New(api.Config{Storage: db, Keys: testenv.Keyring(t, 42), IssuerURL: issuerURL, CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	if listen {
		ready := make(chan struct{})
		go db.Listen(ctx, srv.ExternalChange, ready, nil)
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("the change listener did not start")
		}
	}
	return &replica{url: serveLoopback(t, srv), srv: srv, db: db}
}

func (r *replica) call(t *testing.T, method, path, key string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(b))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (r *replica) exchange(t *testing.T, tok apiv1.Token, aud string) int {
	t.Helper()
	return r.call(t, "POST", "/v1/exchange", "", apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: tok.ClientSecret, AUD: aud}, nil)
}

// TestReplicaSeesAnotherReplicasChange: with a cache TTL of an hour, a
// token disabled through replica A is refused by replica B within a second
// (B heard of it through LISTEN/NOTIFY), while replica C, which does not
// listen, keeps serving its cached token until its TTL: the notification
// is what made B see the change.
func TestReplicaSeesAnotherReplicasChange(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b, c := startReplica(t, dsn, true), startReplica(t, dsn, true), startReplica(t, dsn, false)
	key, _, err := api.EnsureInitialAdminKey(context.Background(), a.db, testenv.Keyring(t, 42), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	var app apiv1.App
	a.call(t, "POST", "/v1/apps", key, apiv1.CreateAppRequest{Name: "billing", Domains: []string{"billing.example.com"}}, &app)
	a.call(t, "POST", "/v1/apps/"+app.ID+"/policies", key, apiv1.CreatePolicyRequest{Name: "p",
		Decision: string(domain.DecisionNonIdentity), Include: []apiv1.Rule{domain.RuleAnyValidServiceToken()}}, nil)
	var tok apiv1.Token
	a.call(t, "POST", "/v1/service-tokens", key, apiv1.CreateTokenRequest{Name: "ci"}, &tok)
	for name, r := range map[string]*replica{"B": b, "C": c} {
		if code := r.exchange(t, tok, app.AUD); code != 200 {
			t.Fatalf("exchange on %s before the change: %d", name, code)
		}
	}
	if code := a.call(t, "PATCH", "/v1/service-tokens/"+tok.ID, key, map[string]any{"enabled": false}, nil); code != 200 {
		t.Fatalf("disable on A: %d", code)
	}
	start := time.Now()
	for b.exchange(t, tok, app.AUD) == 200 {
		if time.Since(start) > time.Second {
			t.Fatal("replica B still exchanges a token disabled on A after 1 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("replica B refused the disabled token %s after the change on A", time.Since(start).Round(time.Millisecond))
	if code := c.exchange(t, tok, app.AUD); code != 200 {
		t.Fatalf("replica C, not listening, answered %d: the test cannot tell the notification's effect from a cache miss", code)
	}
}
