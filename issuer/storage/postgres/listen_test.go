package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// TestListen: a replica hears another's changes by table; a statement that
// changes nothing is not announced; when its listening connection is
// killed it reconnects and reports "" (anything may have changed), and
// hears changes again.
func TestListen(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan string, 16)
	ready := make(chan struct{})
	go b.Listen(ctx, func(table string) { heard <- table }, ready, nil)
	<-ready
	expect := func(what, want string, within time.Duration) {
		t.Helper()
		select {
		case got := <-heard:
			if got != want {
				t.Fatalf("%s: heard %q, want %q", what, got, want)
			}
		case <-time.After(within):
			t.Fatalf("%s: nothing heard within %s, want %q", what, within, want)
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case got := <-heard:
			t.Fatalf("%s: heard %q, want nothing", what, got)
		case <-time.After(300 * time.Millisecond):
		}
	}

	for _, q := range []string{`DELETE FROM apps WHERE id = 'nope'`, `DELETE FROM service_tokens WHERE id = 'nope'`,
		`UPDATE policies SET name = 'x' WHERE id = 'nope'`, `DELETE FROM app_keys WHERE app_id = 'nope'`} {
		if _, err := a.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	quiet("statements that changed nothing")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := a.CreateAdminKey(context.Background(), domain.AdminKey{ID: domain.NewID(), Name: "second", Hash: []byte("h"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	quiet("an admin key (no replica caches them)")
	if err := a.CreateToken(context.Background(), newToken("ci-a", now)); err != nil {
		t.Fatal(err)
	}
	expect("a token created on the other replica", "service_tokens", time.Second)

	var killed int
	if err := a.SQL().QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN svcauth_changes'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	expect("after the listening connection was killed", "", 3*time.Second)
	if err := a.CreateToken(context.Background(), newToken("ci-b", now)); err != nil {
		t.Fatal(err)
	}
	expect("a token created after the reconnect", "service_tokens", time.Second)
}
