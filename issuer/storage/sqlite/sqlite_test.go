package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage/sqlstore"
)

func open(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// The conformance suite runs against this backend from
// storage/conformance (TestConformance), with every other backend.

func TestMigrationsRunOnceAndRecordTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svcauth.db")
	stamp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	db, err := OpenWith(context.Background(), path, func() time.Time { return stamp })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Opening again must not re-apply (CREATE TABLE would fail) and keeps the
	// first record.
	db = open(t, path)
	defer db.Close()
	var n int
	var applied int64
	if err := db.db.QueryRow(`SELECT COUNT(*), MIN(applied_at) FROM schema_migrations`).Scan(&n, &applied); err != nil {
		t.Fatal(err)
	}
	if n == 0 || applied != stamp.UnixNano() {
		t.Fatalf("schema_migrations: %d rows, applied_at %d; want >0 rows at %d", n, applied, stamp.UnixNano())
	}
}

func TestPragmas(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "svcauth.db"))
	defer db.Close()
	var mode string
	var fk int
	if err := db.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 {
		t.Fatalf("journal_mode %q, foreign_keys %d; want wal and 1", mode, fk)
	}
}

// TestConcurrentWriters checks that parallel writers wait for each other
// (busy timeout, immediate transactions) instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "svcauth.db"))
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := domain.Token{ID: domain.NewID(), Name: "t", ClientID: "00000000000000000000000000000000.access",
		SecretHash: []byte("h"), ClientSecretVersion: 1, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < rounds; i++ {
				if _, err := db.UpdateToken(ctx, tok.ID, func(t domain.Token) (domain.Token, error) {
					t.ClientSecretVersion++
					return t, nil
				}); err != nil {
					errs <- err
					return
				}
				if _, err := db.AppendAudit(ctx, domain.AuditEvent{Time: now, Event: "test"}); err != nil {
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
	got, err := db.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSecretVersion != 1+workers*rounds {
		t.Fatalf("version %d, want %d: an update was lost", got.ClientSecretVersion, 1+workers*rounds)
	}
}

// TestAppendAuditsAllOrNothing: a batch whose write fails part-way (here
// in its second INSERT statement) leaves no row behind, and the connection
// works for the next batch. The audit INSERT rolls the whole transaction
// back on a failing row (OR ROLLBACK); a trigger raising ROLLBACK takes the
// same path.
func TestAppendAuditsAllOrNothing(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "svcauth.db"))
	defer db.Close()
	db.db.SetMaxOpenConns(1) // the TEMP trigger exists on one connection
	ctx := context.Background()
	if _, err := db.db.ExecContext(ctx, `CREATE TEMP TRIGGER boom BEFORE INSERT ON audit_events
		WHEN NEW.event = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	// ABORT undoes only the failing statement: the rows of the statements
	// before it stay unless AppendAudits rolls the transaction back itself.
	if _, err := db.db.ExecContext(ctx, `CREATE TEMP TRIGGER abort BEFORE INSERT ON audit_events
		WHEN NEW.event = 'abort' BEGIN SELECT RAISE(ABORT, 'abort'); END`); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(bad int, event string) []domain.AuditEvent {
		ev := make([]domain.AuditEvent, sqlstore.AuditRowsPerInsert+50)
		for i := range ev {
			ev[i] = domain.AuditEvent{Time: now, Event: domain.EventSessionIssued, Actor: domain.ActorExchange}
		}
		if bad >= 0 {
			ev[bad].Event = event
		}
		return ev
	}
	count := func() int {
		var n int
		if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, event := range []string{"boom", "abort"} {
		if err := db.AppendAudits(ctx, batch(sqlstore.AuditRowsPerInsert+10, event)); err == nil {
			t.Fatalf("%s: AppendAudits: no error", event)
		}
		if n := count(); n != 0 {
			t.Fatalf("%s: %d rows after a failed batch, want 0", event, n)
		}
	}
	if err := db.AppendAudits(ctx, batch(-1, "")); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != sqlstore.AuditRowsPerInsert+50 {
		t.Fatalf("%d rows, want %d", n, sqlstore.AuditRowsPerInsert+50)
	}
}
