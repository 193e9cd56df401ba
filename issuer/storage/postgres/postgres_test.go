package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// replicas opens n stores on one fresh database, as n issuer replicas
// would, all starting at once: each runs the migrations under the advisory
// lock.
func replicas(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	dsn := pgtest.DSN(t)
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	return dbs
}

func newToken(name string, now time.Time) domain.Token {
	return domain.Token{ID: domain.NewID(), Name: name, ClientID: strings.Repeat("0", 31) + name[len(name)-1:] + ".access",
		SecretHash: []byte("h"), ClientSecretVersion: 1, Enabled: true, CreatedAt: now, UpdatedAt: now}
}

// TestReplicasMigrateOnce: four replicas starting together on an empty
// database apply each migration exactly once.
func TestReplicasMigrateOnce(t *testing.T) {
	dbs := replicas(t, 4)
	var n int
	if err := dbs[0].SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	if n != len(files) {
		t.Fatalf("%d migration records, want one per migration (%d)", n, len(files))
	}
}

// TestSameNameOnTwoReplicas: the same token name created on two replicas
// at the same moment: exactly one succeeds, the other gets ErrAlreadyExists.
func TestSameNameOnTwoReplicas(t *testing.T) {
	dbs := replicas(t, 2)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := 0; round < 20; round++ {
		name := "ci-" + string(rune('a'+round%26))
		a, b := newToken(name, now), newToken(name, now)
		b.ClientID = strings.Repeat("1", 31) + name[len(name)-1:] + ".access"
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, tok := range []domain.Token{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = dbs[i].CreateToken(context.Background(), tok)
			}()
		}
		close(start)
		wg.Wait()
		ok, exists := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, storage.ErrAlreadyExists):
				exists++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 || exists != 1 {
			t.Fatalf("round %d: %d created, %d refused, want 1 and 1", round, ok, exists)
		}
	}
}

// TestNoLostUpdateAcrossReplicas: replicas incrementing one token's secret
// version concurrently lose none of the increments (SERIALIZABLE, retried).
func TestNoLostUpdateAcrossReplicas(t *testing.T) {
	dbs := replicas(t, 3)
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := newToken("t", now)
	if err := dbs[0].CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 6, 15
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < rounds; i++ {
				if _, err := dbs[w%len(dbs)].UpdateToken(ctx, tok.ID, func(t domain.Token) (domain.Token, error) {
					t.ClientSecretVersion++
					return t, nil
				}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := dbs[1].GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSecretVersion != 1+workers*rounds {
		t.Fatalf("version %d, want %d: an update was lost", got.ClientSecretVersion, 1+workers*rounds)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://svcauth:s3cr3t@db:5432/svcauth?sslmode=require": "postgres://svcauth:xxxxx@db:5432/svcauth?sslmode=require",
		"postgres://db/svcauth?password=s3cr3t&sslmode=disable":     "postgres://db/svcauth?password=xxxxx&sslmode=disable",
		"postgresql://svcauth@db/svcauth":                           "postgresql://svcauth@db/svcauth",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := postgres.Open(context.Background(), "postgres://svcauth:s3cr3t@127.0.0.1:1/x?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("Open error %v: want an error without the password", err)
	}
}

// TestMaintenanceRunsOncePerInterval: of three replicas asking at once,
// one gets to run; nobody again within the interval; one again after it.
func TestMaintenanceRunsOncePerInterval(t *testing.T) {
	dbs := replicas(t, 3)
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	claims := func(at time.Time) int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		n := 0
		for _, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ClaimMaintenance(ctx, "maintenance", time.Hour, at)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					n++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return n
	}
	for _, c := range []struct {
		at   time.Time
		want int
	}{{t0, 1}, {t0.Add(10 * time.Minute), 0}, {t0.Add(59 * time.Minute), 1}, {t0.Add(70 * time.Minute), 0}, {t0.Add(3 * time.Hour), 1}} {
		if n := claims(c.at); n != c.want {
			t.Fatalf("at %s: %d replicas claimed the run, want %d", c.at.Sub(t0), n, c.want)
		}
	}
}
