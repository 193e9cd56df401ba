// Package sqlite is the embedded SQLite backend of the issuer's storage
// (pure Go, modernc.org/sqlite): the database, its migrations and its
// dialect; the queries are storage/sqlstore's, shared with PostgreSQL.
// Schema migrations are .sql files embedded in the binary and applied in
// name order, one transaction each. They repeat one trigger per table and
// event because SQLite has no trigger for several events; a migration is
// never edited once released.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is a storage.Storage on one SQLite file.
type DB struct {
	*sqlstore.DB
	db *sql.DB
	// Now stamps migrations; tests may replace it before Open's migrations
	// run by using OpenWith.
	Now func() time.Time
}

// dialect is SQLite's: ? placeholders, writes serialised by the database
// (every transaction takes the write lock at once: _txlock=immediate).
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	MapErr:      mapErr,
	SizeBytes:   sizeBytes,
	AuditInsert: "INSERT OR ROLLBACK",
}

var _ storage.Storage = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. WAL mode, foreign keys and a busy timeout are on.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, time.Now)
}

// OpenWith is Open with an injected clock.
func OpenWith(ctx context.Context, path string, now func() time.Time) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	d := &DB{db: db, Now: now}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	d.DB = sqlstore.New(db, dialect)
	return d, nil
}

// sizeBytes is the pages of the database file in use or free (what the
// file holds once the write-ahead log is merged).
func sizeBytes(ctx context.Context, db *sql.DB) (int64, error) {
	var pages, size int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return 0, err
	}
	return pages * size, nil
}

// migrate brings the schema up to date (sqlstore.Migrate).
func (d *DB) migrate(ctx context.Context) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return sqlstore.Migrate(ctx, conn, migrationFS, false, d.Now)
}

// mapErr turns SQLite's errors into the storage package's errors where
// they have a meaning there.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", storage.ErrAlreadyExists, constraintColumns(se.Error()))
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: referenced object", storage.ErrNotFound)
		case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			if strings.Contains(se.Error(), "svcauth: client id retired") {
				return storage.ErrClientIDRetired
			}
		}
	}
	return err
}

// constraintColumns extracts "table.column" from a unique constraint message.
func constraintColumns(msg string) string {
	if _, after, ok := strings.Cut(msg, "UNIQUE constraint failed: "); ok {
		if cols, _, ok := strings.Cut(after, " ("); ok {
			return cols
		}
		return after
	}
	return "unique constraint"
}
