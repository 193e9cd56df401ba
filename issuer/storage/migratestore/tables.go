package migratestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// sqliteTables lists the source's tables and their columns.
func sqliteTables(ctx context.Context, tx *sql.Tx) (map[string][]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tableColumns(rows)
}

// postgresTables lists the target's tables (in its current schema) and
// their columns.
func postgresTables(ctx context.Context, tx pgx.Tx) (map[string][]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name FROM information_schema.columns AS c
		JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tableColumns(rows)
}

// rowScanner is what database/sql's and pgx's rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// tableColumns reads (table, column) rows into columns per table, in the
// rows' order.
func tableColumns(rows rowScanner) (map[string][]string, error) {
	out := map[string][]string{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return nil, err
		}
		out[table] = append(out[table], column)
	}
	return out, rows.Err()
}

// byteaColumns returns which of the target table's columns are BYTEA: a
// SQLite value of such a column is sent as bytes whatever SQLite returned.
func byteaColumns(ctx context.Context, tx pgx.Tx, table string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND data_type = 'bytea'`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}

// copyTable streams one table from the source into the target with COPY
// (which also writes the audit rows' GENERATED ALWAYS ids as given) and
// returns how many rows it copied.
func copyTable(ctx context.Context, src *sql.Tx, dst pgx.Tx, table string) (int64, error) {
	cols, err := sqliteTables(ctx, src)
	if err != nil {
		return 0, err
	}
	columns := cols[table]
	bytea, err := byteaColumns(ctx, dst, table)
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = `"` + c + `"`
	}
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM "`+table+`" ORDER BY rowid`)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer rows.Close()
	values := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range values {
		ptrs[i] = &values[i]
	}
	next := func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range columns {
			if s, ok := values[i].(string); ok && bytea[c] {
				values[i] = []byte(s)
			}
		}
		return values, nil
	}
	n, err := dst.CopyFrom(ctx, pgx.Identifier{table}, columns, &copySource{next: next})
	if err != nil {
		return n, fmt.Errorf("target: %w", err)
	}
	return n, rows.Err()
}

// copySource adapts a row iterator to pgx.CopyFromSource.
type copySource struct {
	next func() ([]any, error)
	row  []any
	err  error
}

func (c *copySource) Next() bool {
	c.row, c.err = c.next()
	return c.row != nil && c.err == nil
}

func (c *copySource) Values() ([]any, error) { return c.row, nil }

func (c *copySource) Err() error { return c.err }
