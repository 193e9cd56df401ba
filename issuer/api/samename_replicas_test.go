package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// TestSameTokenNameOnTwoReplicasAtOnce: through the HTTP API, the same
// token name created on both replicas at the same moment gives one 201 and
// one 409, round after round, and the database holds one token per name.
func TestSameTokenNameOnTwoReplicasAtOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, true), startReplica(t, dsn, true)
	key, _, err := api.EnsureInitialAdminKey(context.Background(), a.db, testenv.Keyring(t, 42), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	for i := range rounds {
		name := fmt.Sprintf("race-%d", i)
		codes := make([]int, 2)
		atOnce([]*replica{a, b}, func(j int, r *replica) {
			codes[j] = r.call(t, "POST", "/v1/service-tokens", key, apiv1.CreateTokenRequest{Name: name}, nil)
		})
		if !(codes[0] == http.StatusCreated && codes[1] == http.StatusConflict) && !(codes[0] == http.StatusConflict && codes[1] == http.StatusCreated) {
			t.Fatalf("round %d: replicas answered %v, want one 201 and one 409", i, codes)
		}
	}
	var n int
	if err := a.db.SQL().QueryRow(`SELECT COUNT(*) FROM service_tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != rounds {
		t.Fatalf("%d tokens for %d names", n, rounds)
	}
}

// TestReplicasStartingTogetherCreateOneAdminKey: four replicas starting at
// once on an empty database: one generates the initial admin key, the
// others find it, and none fails (a failure would crash-loop a pod).
func TestReplicasStartingTogetherCreateOneAdminKey(t *testing.T) {
	dsn := pgtest.DSN(t)
	reps := make([]*replica, 4)
	for i := range reps {
		reps[i] = startReplica(t, dsn, false)
	}
	type result struct {
		key       string
		generated bool
		err       error
	}
	results := make([]result, len(reps))
	atOnce(reps, func(i int, r *replica) {
		k, g, err := api.EnsureInitialAdminKey(context.Background(), r.db, testenv.Keyring(t, 42), time.Now(), "")
		results[i] = result{k, g, err}
	})
	generated := 0
	var key string
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("replica %d: %v", i, r.err)
		}
		if r.generated {
			generated++
			key = r.key
		}
	}
	if generated != 1 {
		t.Fatalf("%d replicas generated an initial admin key, want 1", generated)
	}
	if code := reps[3].call(t, "GET", "/v1/service-tokens", key, nil, nil); code != 200 {
		t.Fatalf("the generated key on another replica: %d", code)
	}
}

// TestSameAlgorithmSwitchOnTwoReplicasAtOnce: the same switch to RS256
// asked of two replicas at the same moment rotates once: the second finds
// the app already switched inside its key transaction.
func TestSameAlgorithmSwitchOnTwoReplicasAtOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, true), startReplica(t, dsn, true)
	key, _, err := api.EnsureInitialAdminKey(context.Background(), a.db, testenv.Keyring(t, 42), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var app apiv1.App
		if code := a.call(t, "POST", "/v1/apps", key, apiv1.CreateAppRequest{Name: fmt.Sprintf("grafana-%d", round),
			Domains: []string{fmt.Sprintf("g%d.example.com", round)}}, &app); code != http.StatusCreated {
			t.Fatalf("create app: %d", code)
		}
		rs := "RS256"
		codes := make([]int, 2)
		atOnce([]*replica{a, b}, func(j int, r *replica) {
			codes[j] = r.call(t, "PATCH", "/v1/apps/"+app.ID, key, apiv1.UpdateAppRequest{SessionAlgorithm: &rs}, nil)
		})
		if codes[0] != 200 || codes[1] != 200 {
			t.Fatalf("round %d: switches answered %v", round, codes)
		}
		var n int
		if err := a.db.SQL().QueryRow(`SELECT COUNT(*) FROM app_keys WHERE app_id = $1 AND algorithm = 'RS256'`, app.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("round %d: %d RS256 keys after one switch asked twice, want 1", round, n)
		}
	}
}

// atOnce runs f for every replica, each in its own goroutine, all released
// at the same moment (to race), and waits for them.
func atOnce(reps []*replica, f func(i int, r *replica)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i, r)
		}()
	}
	close(start)
	wg.Wait()
}
