package migratestore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage/migratestore"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T) (*sqlite.DB, *postgres.DB) {
	t.Helper()
	return testenv.SQLite(t), pgtest.Open(t)
}

// TestEveryTableIsCopiedOrSkipped: a table added to either schema without
// a decision here fails this test (and Copy), instead of being left behind.
func TestEveryTableIsCopiedOrSkipped(t *testing.T) {
	src, dst := open(t)
	for name, q := range map[string]string{
		"sqlite":   `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`,
		"postgres": `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
	} {
		db := src.SQL()
		if name == "postgres" {
			db = dst.SQL()
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			tables = append(tables, s)
			if !slices.Contains(migratestore.Tables, s) && !migratestore.Skip(s) {
				t.Errorf("%s table %s is neither copied nor skipped", name, s)
			}
		}
		rows.Close()
		for _, want := range migratestore.Tables {
			if !slices.Contains(tables, want) {
				t.Errorf("%s has no table %s", name, want)
			}
		}
	}
}

// TestCopyCarriesStateOver: rows keep their ids and values, the sync
// generation moves past the source's, the audit ids continue after the
// copied ones, and a second copy into the now full target is refused
// without a change.
func TestCopyCarriesStateOver(t *testing.T) {
	ctx := context.Background()
	src, dst := open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	tok := domain.Token{ID: domain.NewID(), Name: "nightly", ClientID: strings.Repeat("a", 32) + ".access",
		SecretHash: []byte{0, 1, 2, 0xff}, ClientSecretVersion: 3, Enabled: true, CreatedAt: now, UpdatedAt: now}
	gone := domain.Token{ID: domain.NewID(), Name: "gone", ClientID: strings.Repeat("b", 32) + ".access",
		SecretHash: []byte("h"), ClientSecretVersion: 1, Enabled: true, CreatedAt: now, UpdatedAt: now}
	for _, x := range []domain.Token{tok, gone} {
		if err := src.CreateToken(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.DeleteToken(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	var lastID int64
	for i := range 3 {
		e, err := src.AppendAudit(ctx, domain.AuditEvent{Time: now.Add(time.Duration(i) * time.Second), Event: "token.created", Actor: "admin", TokenID: tok.ID, TokenName: tok.Name})
		if err != nil {
			t.Fatal(err)
		}
		lastID = e.ID
	}
	srcGen, err := src.SyncGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}

	counts, err := migratestore.Copy(ctx, src.SQL(), dst.Pool)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Table] = c.Rows
	}
	if got["service_tokens"] != 1 || got["retired_client_ids"] != 1 || got["token_revocations"] != 1 || got["audit_events"] != 3 {
		t.Fatalf("counts %v", counts)
	}

	back, err := dst.GetTokenByClientID(ctx, tok.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != tok.ID || string(back.SecretHash) != string(tok.SecretHash) || back.ClientSecretVersion != 3 || !back.CreatedAt.Equal(now) {
		t.Fatalf("copied token %+v, want %+v", back, tok)
	}
	again := gone
	again.ID, again.Name = domain.NewID(), "again"
	if err := dst.CreateToken(ctx, again); err == nil {
		t.Fatal("the deleted token's client id was not retired in the target")
	}
	revoked, err := dst.ListRevokedTokens(ctx, time.Time{})
	if err != nil || !slices.ContainsFunc(revoked, func(r domain.TokenRevocation) bool { return r.TokenID == gone.ID }) {
		t.Fatalf("the deleted token's revocation was not copied: %v %v", revoked, err)
	}
	if g, err := dst.SyncGeneration(ctx); err != nil || g != srcGen+1 {
		t.Fatalf("target generation %d (%v), want the source's %d + 1", g, err, srcGen)
	}
	e, err := dst.AppendAudit(ctx, domain.AuditEvent{Time: now, Event: "token.updated", Actor: "admin"})
	if err != nil || e.ID != lastID+1 {
		t.Fatalf("the first audit row after the copy got id %d (%v), want %d", e.ID, err, lastID+1)
	}

	_, err = migratestore.Copy(ctx, src.SQL(), dst.Pool)
	if !errors.Is(err, migratestore.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "service_tokens (1 rows)") {
		t.Fatalf("a second copy: %v, want ErrTargetNotEmpty naming the tables", err)
	}
	var n int
	dst.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events`).Scan(&n)
	if n != 4 {
		t.Fatalf("the refused copy changed the target: %d audit rows, want 4", n)
	}
}

// TestCopyRefusesSchemaDrift: a column or a table the other side lacks
// fails the copy before anything is written, instead of being left behind.
func TestCopyRefusesSchemaDrift(t *testing.T) {
	ctx := context.Background()
	for name, change := range map[string]string{
		"a column": `ALTER TABLE service_tokens ADD COLUMN note TEXT`,
		"a table":  `CREATE TABLE token_notes (token_id TEXT PRIMARY KEY)`,
	} {
		t.Run(name, func(t *testing.T) {
			src, dst := open(t)
			now := time.Now().UTC()
			if err := src.CreateToken(ctx, domain.Token{ID: domain.NewID(), Name: "ci", ClientID: strings.Repeat("c", 32) + ".access",
				SecretHash: []byte("h"), ClientSecretVersion: 1, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if _, err := src.SQL().Exec(change); err != nil {
				t.Fatal(err)
			}
			if _, err := migratestore.Copy(ctx, src.SQL(), dst.Pool); err == nil {
				t.Fatal("the copy went ahead")
			}
			var n int
			dst.SQL().QueryRow(`SELECT COUNT(*) FROM service_tokens`).Scan(&n)
			if n != 0 {
				t.Fatalf("the refused copy wrote %d tokens", n)
			}
		})
	}
}
