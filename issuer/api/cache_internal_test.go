package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
)

// TestAppRebuildReusesSigners: an app entry rebuilt after a change (or its
// TTL) keeps the Signers of the versions it already had, instead of
// opening their RS256 keys again on the exchange that missed; a new version
// gets a Signer of its own.
func TestAppRebuildReusesSigners(t *testing.T) {
	ctx := context.Background()
	store := testenv.SQLite(t)
	kr := testenv.Keyring(t, 7)
	s, err := New(Config{Storage: store, Keys: kr, IssuerURL: "https://issuer.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	key, _, err := EnsureInitialAdminKey(ctx, store, kr, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body any, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if out != nil {
			json.Unmarshal(rec.Body.Bytes(), out)
		}
	}
	var app apiv1.App
	call("POST", "/v1/apps", apiv1.CreateAppRequest{Name: "grafana", Domains: []string{"g.example.com"}, SessionAlgorithm: "RS256"}, &app)

	first, err := s.cache.app(ctx, app.AUD, time.Now())
	if err != nil || len(first.signers) != 1 {
		t.Fatalf("app entry %+v, %v", first, err)
	}
	s.epochs.apps.Add(1) // a change: the entry is rebuilt
	again, err := s.cache.app(ctx, app.AUD, time.Now())
	if err != nil || again == first {
		t.Fatalf("the entry was not rebuilt (%v)", err)
	}
	if again.signers[0].Signer != first.signers[0].Signer {
		t.Fatal("the rebuilt entry opened the unchanged RS256 key again")
	}

	call("POST", "/v1/apps/"+app.ID+"/keys/rotate", map[string]string{"activate_after": "0s"}, nil)
	rotated, err := s.cache.app(ctx, app.AUD, time.Now())
	if err != nil || len(rotated.signers) != 2 {
		t.Fatalf("after the rotation: %d signers, %v", len(rotated.signers), err)
	}
	if rotated.signers[0].Signer == first.signers[0].Signer || rotated.signers[1].Signer != first.signers[0].Signer {
		t.Fatal("after the rotation the new version must have a new Signer and the old one keep its own")
	}
}
