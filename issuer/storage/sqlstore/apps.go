package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

const appColumns = `id, name, domains, aud, session_duration_ns, key_version, sessions_not_before, created_at, updated_at, session_algorithm`

func scanApp(r rowScanner) (domain.App, error) {
	var (
		a                domain.App
		domains          string
		sessionNS        int64
		notBefore        sql.NullInt64
		created, updated int64
	)
	if err := r.Scan(&a.ID, &a.Name, &domains, &a.AUD, &sessionNS, &a.KeyVersion, &notBefore, &created, &updated, &a.SessionAlgorithm); err != nil {
		return domain.App{}, mapErr(err)
	}
	if err := json.Unmarshal([]byte(domains), &a.Domains); err != nil {
		return domain.App{}, fmt.Errorf("storage: app %s: bad domains column: %w", a.ID, err)
	}
	a.SessionDuration = time.Duration(sessionNS)
	a.SessionsNotBefore = fromNullNS(notBefore)
	a.CreatedAt, a.UpdatedAt = fromNS(created), fromNS(updated)
	return a, nil
}

func appArgs(a domain.App) ([]any, error) {
	domains := a.Domains
	if domains == nil {
		domains = []string{}
	}
	b, err := json.Marshal(domains)
	if err != nil {
		return nil, err
	}
	return []any{a.ID, a.Name, string(b), a.AUD, int64(a.SessionDuration), a.KeyVersion,
		toNullNS(a.SessionsNotBefore), toNS(a.CreatedAt), toNS(a.UpdatedAt)}, nil
}

// CreateApp implements storage.Storage: the app and its first key, in one
// transaction.
func (d *DB) CreateApp(ctx context.Context, a domain.App) error {
	args, err := appArgs(a)
	if err != nil {
		return err
	}
	first := domain.FirstAppKey(a)
	return d.withTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(args, first.Algorithm)...); err != nil {
			return mapErr(err)
		}
		return insertAppKey(ctx, tx, a.ID, first)
	})
}

// GetApp implements storage.Storage.
func (d *DB) GetApp(ctx context.Context, id string) (domain.App, error) {
	return scanApp(d.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
}

// GetAppByAUD implements storage.Storage.
func (d *DB) GetAppByAUD(ctx context.Context, aud string) (domain.App, error) {
	return scanApp(d.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE aud = ?`, aud))
}

// ListApps implements storage.Storage.
func (d *DB) ListApps(ctx context.Context) ([]domain.App, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+appColumns+` FROM apps ORDER BY name`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.App{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err())
}

// UpdateApp implements storage.Storage.
func (d *DB) UpdateApp(ctx context.Context, id string, updater func(domain.App) (domain.App, error)) (domain.App, error) {
	var out domain.App
	err := d.withTx(ctx, func(tx *Tx) error {
		old, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
		if err != nil {
			return err
		}
		a, err := updater(old)
		if err != nil {
			return err
		}
		a.ID = old.ID
		a.SessionAlgorithm = old.SessionAlgorithm // changed only with the keys (UpdateAppKeys)
		a.FirstKey = nil
		args, err := appArgs(a)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE apps SET name = ?, domains = ?, aud = ?, session_duration_ns = ?,
			key_version = ?, sessions_not_before = ?, created_at = ?, updated_at = ? WHERE id = ?`,
			append(args[1:], id)...)
		if err != nil {
			return mapErr(err)
		}
		out = a
		return nil
	})
	return out, err
}

// DeleteApp implements storage.Storage; policies go with it (ON DELETE CASCADE).
func (d *DB) DeleteApp(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM apps WHERE id = ?`, id)
	return affectedOne(res, err)
}
