package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// pollSync sends a signed filter sync poll to r and returns the status and
// the ETag.
func (r *replica) pollSync(t *testing.T, app apiv1.App, etag string) (int, string) {
	t.Helper()
	key := testenv.Keyring(t, 42).SessionKey(app.AUD, 1)
	req, _ := http.NewRequest("GET", r.url+"/v1/filter-sync?aud="+app.AUD, nil)
	req.Header.Set("x-svcauth-sync", syncSig(key, app.AUD, time.Now().Unix()))
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag")
}

// TestReplicasAnswerTheSameSyncETag: a filter whose polls alternate between
// two replicas gets 304 from the one it did not ask before, and after a
// change made through one replica both answer the same new ETag.
func TestReplicasAnswerTheSameSyncETag(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, true), startReplica(t, dsn, true)
	key, _, err := api.EnsureInitialAdminKey(context.Background(), a.db, testenv.Keyring(t, 42), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	var app apiv1.App
	a.call(t, "POST", "/v1/apps", key, apiv1.CreateAppRequest{Name: "billing", Domains: []string{"billing.example.com"}}, &app)
	var tok apiv1.Token
	a.call(t, "POST", "/v1/service-tokens", key, apiv1.CreateTokenRequest{Name: "ci"}, &tok)

	code, etag := a.pollSync(t, app, "")
	if code != 200 || etag == "" {
		t.Fatalf("poll of A: %d, ETag %q", code, etag)
	}
	if code, _ := b.pollSync(t, app, etag); code != http.StatusNotModified {
		t.Fatalf("poll of B with A's ETag: %d, want 304", code)
	}
	if code := b.call(t, "PATCH", "/v1/service-tokens/"+tok.ID, key, map[string]any{"enabled": false}, nil); code != 200 {
		t.Fatalf("disable on B: %d", code)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		codeA, etagA := a.pollSync(t, app, etag)
		codeB, etagB := b.pollSync(t, app, etag)
		if codeA == 200 && codeB == 200 {
			if etagA != etagB || etagA == etag {
				t.Fatalf("after the change: A's ETag %s, B's %s, before %s", etagA, etagB, etag)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the change, A answers %d and B %d to the old ETag", codeA, codeB)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
