package sqlstore

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

const tokenColumns = `id, name, client_id, secret_hash, previous_secret_hash, previous_secret_expires_at,
	client_secret_version, duration_ns, expires_at, enabled, created_at, updated_at, last_seen_at, sessions_revoked_at`

func scanToken(r rowScanner) (domain.Token, error) {
	var (
		t                          domain.Token
		prevExp, expires, lastSeen sql.NullInt64
		revoked                    sql.NullInt64
		durationNS                 int64
		enabled                    int
		created, updated           int64
	)
	err := r.Scan(&t.ID, &t.Name, &t.ClientID, &t.SecretHash, &t.PreviousSecretHash, &prevExp,
		&t.ClientSecretVersion, &durationNS, &expires, &enabled, &created, &updated, &lastSeen, &revoked)
	if err != nil {
		return domain.Token{}, mapErr(err)
	}
	t.PreviousSecretExpiresAt = fromNullNS(prevExp)
	t.Duration = domain.TokenDuration{D: time.Duration(durationNS)}
	t.ExpiresAt = fromNullNS(expires)
	t.Enabled = enabled != 0
	t.CreatedAt, t.UpdatedAt = fromNS(created), fromNS(updated)
	t.LastSeenAt = fromNullNS(lastSeen)
	t.SessionsRevokedAt = fromNullNS(revoked)
	if len(t.PreviousSecretHash) == 0 {
		t.PreviousSecretHash = nil
	}
	return t, nil
}

func tokenArgs(t domain.Token) []any {
	var prev any
	if len(t.PreviousSecretHash) > 0 {
		prev = t.PreviousSecretHash
	}
	return []any{t.ID, t.Name, t.ClientID, t.SecretHash, prev, toNullNS(t.PreviousSecretExpiresAt),
		t.ClientSecretVersion, int64(t.Duration.D), toNullNS(t.ExpiresAt), boolInt(t.Enabled),
		toNS(t.CreatedAt), toNS(t.UpdatedAt), toNullNS(t.LastSeenAt), toNullNS(t.SessionsRevokedAt)}
}

// CreateToken implements storage.Storage.
func (d *DB) CreateToken(ctx context.Context, t domain.Token) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO service_tokens (`+tokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tokenArgs(t)...)
	return mapErr(err)
}

// GetToken implements storage.Storage.
func (d *DB) GetToken(ctx context.Context, id string) (domain.Token, error) {
	return scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM service_tokens WHERE id = ?`, id))
}

// GetTokenByClientID implements storage.Storage.
func (d *DB) GetTokenByClientID(ctx context.Context, clientID string) (domain.Token, error) {
	return scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM service_tokens WHERE client_id = ?`, clientID))
}

// ListTokens implements storage.Storage.
func (d *DB) ListTokens(ctx context.Context, f storage.TokenFilter) ([]domain.Token, error) {
	var lq listQuery
	if f.Name != "" {
		lq.add("name = ?", f.Name)
	}
	if f.After != "" {
		lq.add("name > ?", f.After)
	}
	q, args := lq.build(tokenColumns+" FROM service_tokens", "name", f.Limit)
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// UpdateToken implements storage.Storage.
func (d *DB) UpdateToken(ctx context.Context, id string, updater func(domain.Token) (domain.Token, error)) (domain.Token, error) {
	var out domain.Token
	err := d.withTx(ctx, func(tx *Tx) error {
		old, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM service_tokens WHERE id = ?`, id))
		if err != nil {
			return err
		}
		t, err := updater(old)
		if err != nil {
			return err
		}
		t.ID = old.ID
		args := tokenArgs(t)[1:]
		_, err = tx.ExecContext(ctx, `UPDATE service_tokens SET name = ?, client_id = ?, secret_hash = ?,
			previous_secret_hash = ?, previous_secret_expires_at = ?, client_secret_version = ?, duration_ns = ?,
			expires_at = ?, enabled = ?, created_at = ?, updated_at = ?, last_seen_at = ?, sessions_revoked_at = ? WHERE id = ?`,
			append(args, id)...)
		if err != nil {
			return mapErr(err)
		}
		out = t
		return nil
	})
	return out, err
}

// DeleteToken implements storage.Storage.
func (d *DB) DeleteToken(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM service_tokens WHERE id = ?`, id)
	return affectedOne(res, err)
}

// TouchTokens implements storage.Storage. A token's last_seen_at only moves
// forward.
func (d *DB) TouchTokens(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	return d.withTx(ctx, func(tx *Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE service_tokens SET last_seen_at = ?
			WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`)
		if err != nil {
			return mapErr(err)
		}
		defer stmt.Close()
		// In id order: two replicas flushing the same tokens then lock
		// their rows in the same order and wait for each other instead of
		// deadlocking (a second's stall on PostgreSQL, then a retry).
		for _, id := range slices.Sorted(maps.Keys(seen)) {
			t := seen[id]
			if _, err := stmt.ExecContext(ctx, toNS(t), id, toNS(t)); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
