// Package postgres is the PostgreSQL backend of the issuer's storage, for
// several issuer replicas on one database: github.com/jackc/pgx/v5 with a
// pgxpool.Pool, seen through database/sql (pgx's stdlib) so that it runs
// storage/sqlstore's queries, the same as SQLite's. The schema is its own
// (migrations/, embedded), applied at start under an advisory lock so that
// replicas starting together migrate exactly once.
//
// Read-modify-write transactions run SERIALIZABLE and run again when they
// lose a race with another replica: two replicas updating one token do not
// lose either update, and the database's unique constraints decide which of
// two creations of one name wins.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the advisory lock key replicas take to migrate
// ("svcauth" in ASCII).
const migrationLock = 0x73766361757468

// DB is a storage.Storage on one PostgreSQL database.
type DB struct {
	*sqlstore.DB
	Pool *pgxpool.Pool
}

var dialect = sqlstore.Dialect{
	Name:        "postgres",
	Numbered:    true,
	MapErr:      mapErr,
	TxOptions:   &sql.TxOptions{Isolation: sql.LevelSerializable},
	Retry:       retryable,
	SizeBytes:   sizeBytes,
	AuditInsert: "INSERT",
}

// IsDSN reports whether s names a PostgreSQL database (postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns dsn with its password replaced, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects to dsn and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := poolConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", Redact(dsn), scrub(err, dsn))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", Redact(dsn), scrub(err, dsn))
	}
	db := stdlib.OpenDBFromPool(pool)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", Redact(dsn), scrub(err, dsn))
	}
	return &DB{DB: sqlstore.New(db, dialect), Pool: pool}, nil
}

// DefaultConnectTimeout bounds each new connection when the DSN sets no
// connect_timeout: without one, a database host that drops packets would
// hold a request (and its pool slot) until the kernel gives up, minutes
// later, where the readiness probe and the callers want an answer.
const DefaultConnectTimeout = 5 * time.Second

// poolConfig parses dsn and applies svcauth's defaults to what it leaves
// unset.
func poolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, nil
}

// Close closes the database and its pool.
func (d *DB) Close() error {
	err := d.DB.Close()
	d.Pool.Close()
	return err
}

// scrub removes dsn's password (the URL's or a password= parameter's)
// from an error's text. pgx's own errors leave it out; errors of anything
// else that saw the DSN may not.
func scrub(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil {
		return err
	}
	msg := err.Error()
	p, _ := u.User.Password()
	for _, p := range []string{p, u.Query().Get("password")} {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// migrate brings the schema up to date (sqlstore.Migrate) holding the
// advisory lock, on one connection: replicas starting together migrate
// one after the other, and the later ones find nothing to do.
func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	return sqlstore.Migrate(ctx, conn, migrationFS, true, time.Now)
}

func sizeBytes(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n, err
}

// PostgreSQL error codes svcauth gives a meaning to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeRaiseException       = "P0001"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeUniqueViolation:
		return fmt.Errorf("%w: %s", storage.ErrAlreadyExists, pe.ConstraintName)
	case codeForeignKeyViolation:
		return fmt.Errorf("%w: referenced object", storage.ErrNotFound)
	case codeRaiseException:
		if strings.Contains(pe.Message, "svcauth: client id retired") {
			return storage.ErrClientIDRetired
		}
	}
	return err
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// ScrubError returns err with dsn's password removed from its text, for
// callers that report errors of work done on a database opened with dsn.
func ScrubError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	return scrub(err, dsn)
}
