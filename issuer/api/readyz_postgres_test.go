package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/logbuf"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
)

// TestReadyzFollowsPostgres is what envoy/istio/issuer-postgres.yaml's
// probes rely on: a replica whose PostgreSQL database becomes unreachable
// answers /readyz 503 (Kubernetes takes it out of the Service) while
// /healthz stays 200 (it is not restarted), and /readyz is 200 again once
// the database is back, without a restart. The database is made
// unreachable the way an outage looks to the issuer, on the shared test
// cluster: its connections are terminated and new ones refused
// (ALLOW_CONNECTIONS false, which binds superusers too, unlike REVOKE
// CONNECT), from an admin connection to another database.
func TestReadyzFollowsPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	admin := readyzAdmin(t, pgtest.DSN(t))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &logbuf.Buffer{}
	srv, err := api.New(api.Config{Storage: db, Keys: testenv.Keyring(t, 42), IssuerURL: issuerURL,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	base := serveLoopback(t, srv)

	if code, body := readyzHealth(t, base+"/readyz"); code != 200 || body.Status != "ready" {
		t.Fatalf("/readyz on a reachable database: %d %+v", code, body)
	}

	readyzExec(t, admin, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false")
	t.Cleanup(func() { admin.Exec(context.Background(), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true") })
	// The select list runs after WHERE: only this database's backends go.
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = $1`, strings.TrimPrefix(u.Path, "/")).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("the issuer held no connection to its database: terminating none proves nothing")
	}

	// Each probe fails; the first may meet a connection just terminated,
	// the next ones open new connections, which PostgreSQL refuses.
	refused := false
	for i := 0; i < 5 && !refused; i++ {
		code, raw := readyzGet(t, base+"/readyz")
		var e apiv1.Error
		if err := json.Unmarshal(raw, &e); err != nil || code != http.StatusServiceUnavailable ||
			e.Error != string(domain.EUnavailable) || e.Message != "storage unreachable" {
			t.Fatalf("/readyz %d with the database unreachable: %d %s, want 503 unavailable/storage unreachable", i+1, code, raw)
		}
		refused = strings.Contains(logs.String(), "not currently accepting connections")
	}
	// The 503s are PostgreSQL's refusal, not some other failure.
	if !refused {
		t.Fatalf("the issuer never logged PostgreSQL refusing connections:\n%s", logs.String())
	}
	if code, _ := readyzHealth(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz with the database unreachable: %d; liveness would restart the replica", code)
	}

	readyzExec(t, admin, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := readyzHealth(t, base+"/readyz")
		if code == 200 && body.Status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 10 s after the database came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readyzAdmin(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func readyzExec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func readyzGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func readyzHealth(t *testing.T, url string) (int, apiv1.Health) {
	t.Helper()
	code, raw := readyzGet(t, url)
	var h apiv1.Health
	json.Unmarshal(raw, &h)
	return code, h
}
