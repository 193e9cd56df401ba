package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/storage"
)

// TestRetiredClientIDUnderConcurrency: a token is being deleted in an open
// transaction while another replica creates a token with the same client
// id. The creation waits for the deletion and must then be refused as
// retired: without a lock, the BEFORE trigger's check ran before the
// deletion committed, and the new token would hold a retired client id.
func TestRetiredClientIDUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	dbs := replicas(t, 2)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	old := newToken("ci-a", now)
	if err := dbs[0].CreateToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	tx, err := dbs[0].SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_tokens WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	again := newToken("ci-b", now)
	again.ClientID = old.ClientID
	done := make(chan error, 1)
	go func() { done <- dbs[1].CreateToken(ctx, again) }()
	select {
	case err := <-done:
		t.Fatalf("the creation did not wait for the deletion in progress: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, storage.ErrClientIDRetired) {
		t.Fatalf("a token created with the client id of a token deleted meanwhile: %v, want ErrClientIDRetired", err)
	}
}
