// Package sqlstore is the issuer's storage written once in SQL, for every
// database/sql backend: SQLite (storage/sqlite) and PostgreSQL
// (storage/postgres). A backend opens the database, applies its own
// migrations (the schema, triggers included, is each backend's), and hands
// the *sql.DB to New with its Dialect; everything else is here, so the two
// cannot drift.
//
// Statements are written out per query, each with its own scan, rather
// than built from fragments: the SQL a reviewer reads is the SQL that runs.
// They use ? placeholders (?N for a repeated one); a dialect rewrites them.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/svcauth/svcauth/issuer/storage"
)

// Dialect is what differs between backends.
type Dialect struct {
	// Name prefixes errors ("sqlite", "postgres").
	Name string
	// Numbered placeholders: ? and ?N become $N (PostgreSQL).
	Numbered bool
	// MapErr maps the driver's errors to the storage package's errors
	// (unique and foreign-key violations, the retired client id), else
	// returns err.
	MapErr func(error) error
	// TxOptions are every read-modify-write transaction's; Retry reports a
	// failure after which the whole transaction runs again (PostgreSQL's
	// serialization failures). SQLite takes its write lock up front and
	// needs neither.
	TxOptions *sql.TxOptions
	Retry     func(error) bool
	// SizeBytes is the database's size (svcauth_database_size_bytes).
	SizeBytes func(ctx context.Context, db *sql.DB) (int64, error)
	// AuditInsert begins the multi-row audit INSERT ("INSERT OR ROLLBACK"
	// in SQLite: see auditInsert).
	AuditInsert string
}

// DB is a storage.Storage on one database/sql database.
type DB struct {
	db      *conn
	dialect Dialect
}

var _ storage.Storage = (*DB)(nil)

// New returns the storage on db, whose schema is up to date.
func New(db *sql.DB, d Dialect) *DB {
	s := &DB{db: &conn{db: db, numbered: d.Numbered}, dialect: d}
	registerMapper(d.MapErr)
	return s
}

// SQL returns the underlying database, for backends and their tests.
func (d *DB) SQL() *sql.DB { return d.db.db }

// Close closes the database.
func (d *DB) Close() error { return d.db.db.Close() }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// SizeBytes implements storage.Storage.
func (d *DB) SizeBytes(ctx context.Context) (int64, error) {
	n, err := d.dialect.SizeBytes(ctx, d.db.db)
	return n, mapErr(err)
}

// maxTxAttempts bounds the runs of a transaction that keeps losing
// serialization races (PostgreSQL); one more failure is returned.
const maxTxAttempts = 20

// withTx runs fn in a transaction, commits when it returns nil and rolls
// back otherwise. Where the dialect says so, a transaction that lost a
// serialization race runs again from the start, updater included: updaters
// are pure functions of the value they are given.
func (d *DB) withTx(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.tryTx(ctx, fn)
		if err == nil || d.dialect.Retry == nil || !d.dialect.Retry(err) || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}

func (d *DB) tryTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := d.db.db.BeginTx(ctx, d.dialect.TxOptions)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(&Tx{tx: tx, numbered: d.db.numbered}); err != nil {
		tx.Rollback()
		return err
	}
	return mapErr(tx.Commit())
}

// conn and Tx are *sql.DB and *sql.Tx with the dialect's placeholders.
type conn struct {
	db       *sql.DB
	numbered bool
}

func (c *conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, rebind(q, c.numbered), args...)
}

func (c *conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(ctx, rebind(q, c.numbered), args...)
}

func (c *conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.db.QueryRowContext(ctx, rebind(q, c.numbered), args...)
}

func (c *conn) Conn(ctx context.Context) (*sql.Conn, error) { return c.db.Conn(ctx) }

// Tx is a transaction of DB.
type Tx struct {
	tx       *sql.Tx
	numbered bool
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(q, t.numbered), args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(q, t.numbered), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(q, t.numbered), args...)
}

func (t *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, rebind(q, t.numbered))
}

var rebound sync.Map // query → its numbered form

// rebind returns q with ? and ?N placeholders as $N when numbered. The
// statements are constants or built from a few shapes, so each is
// rewritten once. (No statement has a ? inside a string literal.)
func rebind(q string, numbered bool) string {
	if !numbered || strings.IndexByte(q, '?') < 0 {
		return q
	}
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		b.WriteByte('$')
		if j > i+1 {
			b.WriteString(q[i+1 : j])
		} else {
			n++
			b.WriteString(strconv.Itoa(n))
		}
		i = j - 1
	}
	r := b.String()
	rebound.Store(q, r)
	return r
}

var (
	mappersMu sync.Mutex
	mappers   []func(error) error
)

// registerMapper adds a backend's driver error mapping (once per backend:
// their error types differ, so each maps only its own).
func registerMapper(f func(error) error) {
	if f == nil {
		return
	}
	mappersMu.Lock()
	defer mappersMu.Unlock()
	for _, m := range mappers {
		if sameFunc(m, f) {
			return
		}
	}
	mappers = append(mappers, f)
}

// mapErr turns driver errors into the storage package's errors where they
// have a meaning there.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	mappersMu.Lock()
	ms := mappers
	mappersMu.Unlock()
	for _, m := range ms {
		if mapped := m(err); mapped != err {
			return mapped
		}
	}
	return err
}

// Times are stored as Unix nanoseconds; nil as NULL.

func toNS(t time.Time) int64 { return t.UnixNano() }

func fromNS(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func toNullNS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNullNS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNS(n.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func sameFunc(a, b func(error) error) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}
