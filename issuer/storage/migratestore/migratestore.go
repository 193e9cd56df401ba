// Package migratestore copies an issuer's whole state from a SQLite
// database into an empty PostgreSQL one (svcauth migrate-store), so that an
// operator can move a single-replica issuer to several replicas without
// re-creating tokens: every client id, secret hash, retired client id,
// revocation, application key (sealed RSA keys included), policy, admin key
// and audit row, with their ids, is carried over unchanged.
//
// Both schemas hold the same tables and columns (storage/sqlite and
// storage/postgres keep them equal); Copy checks that before it writes, so a
// schema drift fails the copy instead of dropping a column. Values are
// copied as stored: hashes and sealed keys stay valid under the same master
// key, which the target's issuers must use.
package migratestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tables are the copied tables, parents before the tables whose foreign
// keys name them. sync_state is not copied but set (see Copy).
var Tables = []string{
	"apps",
	"service_tokens",
	"policies",
	"policy_token_refs",
	"admin_keys",
	"app_keys",
	"retired_client_ids",
	"token_revocations",
	"audit_events",
}

// Skipped are the tables that are deliberately not copied, with why.
var Skipped = map[string]string{
	"schema_migrations": "each backend records its own migrations",
	"maintenance_runs":  "when maintenance last ran is the target's own bookkeeping",
	"sync_state":        "set to the source's generation plus one",
}

// skippedPrefix names tables of state tied to one issuer's sign-ins
// (dashboard sessions): operators sign in again after the move.
const skippedPrefix = "ui_"

// Skip reports whether table is not copied.
func Skip(table string) bool {
	_, ok := Skipped[table]
	return ok || strings.HasPrefix(table, skippedPrefix)
}

// Count is how many rows of one table were copied.
type Count struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// ErrTargetNotEmpty is returned when the target already holds state.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// Copy copies every table of Tables from src (a SQLite database whose
// schema is up to date) into dst (a PostgreSQL database whose schema is up
// to date and that holds no rows in them), in one transaction on each side:
// a consistent snapshot of src, and all of it or nothing in dst. The
// target's sync generation becomes the source's plus one, so that every
// filter's next poll reads the (same) state afresh.
func Copy(ctx context.Context, src *sql.DB, dst *pgxpool.Pool) ([]Count, error) {
	rtx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer rtx.Rollback()
	wtx, err := dst.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer wtx.Rollback(context.WithoutCancel(ctx))

	if err := sameTables(ctx, rtx, wtx); err != nil {
		return nil, err
	}
	if err := requireEmpty(ctx, wtx); err != nil {
		return nil, err
	}
	counts := make([]Count, 0, len(Tables))
	for _, table := range Tables {
		n, err := copyTable(ctx, rtx, wtx, table)
		if err != nil {
			return nil, fmt.Errorf("copying %s: %w", table, err)
		}
		counts = append(counts, Count{Table: table, Rows: n})
	}
	if err := verifyCounts(ctx, rtx, wtx); err != nil {
		return nil, err
	}
	if err := carryOver(ctx, rtx, wtx); err != nil {
		return nil, err
	}
	if err := wtx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("target: commit: %w", err)
	}
	return counts, nil
}

// requireEmpty refuses a target holding any row in a copied table. A
// PostgreSQL database an issuer already started on holds its first admin
// key: that is refused too, as merging two states is not a copy.
func requireEmpty(ctx context.Context, tx pgx.Tx) error {
	var full []string
	for _, table := range Tables {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("target: %s: %w", table, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", table, n))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s; copy into a new, empty database (an issuer started on it already created an admin key)",
			ErrTargetNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// verifyCounts compares every table's row count on both sides, inside
// both transactions, before the target commits.
func verifyCounts(ctx context.Context, src *sql.Tx, dst pgx.Tx) error {
	for _, table := range Tables {
		var a, b int64
		if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`"`).Scan(&a); err != nil {
			return fmt.Errorf("source: %s: %w", table, err)
		}
		if err := dst.QueryRow(ctx, `SELECT COUNT(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&b); err != nil {
			return fmt.Errorf("target: %s: %w", table, err)
		}
		if a != b {
			return fmt.Errorf("%s: %d rows in the source, %d in the target: nothing was committed", table, a, b)
		}
	}
	return nil
}

// carryOver sets what is not a copied row: the sync generation, and the
// audit id sequence past the copied ids (the audit API pages by id).
func carryOver(ctx context.Context, src *sql.Tx, dst pgx.Tx) error {
	var gen int64
	if err := src.QueryRowContext(ctx, `SELECT generation FROM sync_state WHERE id = 1`).Scan(&gen); err != nil {
		return fmt.Errorf("source: sync generation: %w", err)
	}
	if _, err := dst.Exec(ctx, `UPDATE sync_state SET generation = $1 WHERE id = 1`, gen+1); err != nil {
		return fmt.Errorf("target: sync generation: %w", err)
	}
	if _, err := dst.Exec(ctx, `SELECT setval(pg_get_serial_sequence('audit_events', 'id'),
		COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false)`); err != nil {
		return fmt.Errorf("target: audit id sequence: %w", err)
	}
	return nil
}

// sameTables checks that the two schemas hold the same tables (apart from
// the skipped ones) with the same columns.
func sameTables(ctx context.Context, src *sql.Tx, dst pgx.Tx) error {
	srcTables, err := sqliteTables(ctx, src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstTables, err := postgresTables(ctx, dst)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, side := range []struct {
		name   string
		tables map[string][]string
	}{{"source", srcTables}, {"target", dstTables}} {
		for table := range side.tables {
			if !Skip(table) && !slices.Contains(Tables, table) {
				return fmt.Errorf("the %s database has table %s, which this svcauth does not know how to copy: use the svcauth release that created it", side.name, table)
			}
		}
	}
	for _, table := range Tables {
		a, b := srcTables[table], dstTables[table]
		if a == nil || b == nil {
			return fmt.Errorf("table %s is missing from the %s database", table, map[bool]string{true: "source", false: "target"}[a == nil])
		}
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return fmt.Errorf("table %s has columns %v in the source and %v in the target", table, a, b)
		}
	}
	return nil
}
