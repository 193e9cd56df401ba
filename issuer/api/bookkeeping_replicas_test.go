package api_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// TestReplicasBookkeepingNeitherLosesNorDuplicates: two replicas exchange
// the same tokens at once; afterwards the database holds exactly one
// session.issued row per acknowledged exchange, with distinct ids, and
// every token's last_seen_at is set (TouchTokens only moves it forward,
// whichever replica flushes last).
func TestReplicasBookkeepingNeitherLosesNorDuplicates(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, true), startReplica(t, dsn, true)
	key, _, err := api.EnsureInitialAdminKey(ctx, a.db, testenv.Keyring(t, 42), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	var app apiv1.App
	a.call(t, "POST", "/v1/apps", key, apiv1.CreateAppRequest{Name: "billing", Domains: []string{"billing.example.com"}}, &app)
	a.call(t, "POST", "/v1/apps/"+app.ID+"/policies", key, apiv1.CreatePolicyRequest{Name: "p",
		Decision: string(domain.DecisionNonIdentity), Include: []apiv1.Rule{domain.RuleAnyValidServiceToken()}}, nil)
	toks := make([]apiv1.Token, 4)
	for i := range toks {
		a.call(t, "POST", "/v1/service-tokens", key, apiv1.CreateTokenRequest{Name: "ci-" + string(rune('a'+i))}, &toks[i])
	}

	const perWorker = 40
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for _, r := range []*replica{a, b} {
		for _, tok := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perWorker {
					if r.exchange(t, tok, app.AUD) == 200 {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	if ok != 2*len(toks)*perWorker {
		t.Fatalf("%d of %d exchanges answered 200", ok, 2*len(toks)*perWorker)
	}
	for _, r := range []*replica{a, b} {
		if err := r.srv.FlushAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.srv.FlushLastSeen(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var rows, ids int
	if err := a.db.SQL().QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id) FROM audit_events WHERE event = 'session.issued'`).Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != ok || ids != ok {
		t.Fatalf("%d session.issued rows (%d distinct ids) for %d exchanges", rows, ids, ok)
	}
	var tokens, least, most int
	if err := a.db.SQL().QueryRow(`SELECT COUNT(*), MIN(n), MAX(n) FROM
		(SELECT COUNT(*) AS n FROM audit_events WHERE event = 'session.issued' GROUP BY token_id) AS c`).Scan(&tokens, &least, &most); err != nil {
		t.Fatal(err)
	}
	if tokens != len(toks) || least != 2*perWorker || most != 2*perWorker {
		t.Fatalf("session.issued rows for %d tokens, %d to %d each; want %d tokens with %d each", tokens, least, most, len(toks), 2*perWorker)
	}
	var unseen int
	if err := a.db.SQL().QueryRow(`SELECT COUNT(*) FROM service_tokens WHERE last_seen_at IS NULL`).Scan(&unseen); err != nil {
		t.Fatal(err)
	}
	if unseen != 0 {
		t.Fatalf("%d tokens have no last_seen_at after their exchanges", unseen)
	}
}
