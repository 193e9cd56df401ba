package sqlstore

import (
	"context"
	"database/sql"

	"github.com/svcauth/svcauth/issuer/domain"
)

const adminKeyColumns = `id, name, hash, created_at, revoked_at`

func scanAdminKey(r rowScanner) (domain.AdminKey, error) {
	var (
		k       domain.AdminKey
		created int64
		revoked sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &created, &revoked); err != nil {
		return domain.AdminKey{}, mapErr(err)
	}
	k.CreatedAt = fromNS(created)
	k.RevokedAt = fromNullNS(revoked)
	return k, nil
}

// CreateAdminKey implements storage.Storage.
func (d *DB) CreateAdminKey(ctx context.Context, k domain.AdminKey) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Hash, toNS(k.CreatedAt), toNullNS(k.RevokedAt))
	return mapErr(err)
}

// ListAdminKeys implements storage.Storage.
func (d *DB) ListAdminKeys(ctx context.Context) ([]domain.AdminKey, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY name`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.AdminKey{}
	for rows.Next() {
		k, err := scanAdminKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, mapErr(rows.Err())
}

// UpdateAdminKey implements storage.Storage.
func (d *DB) UpdateAdminKey(ctx context.Context, id string, updater func(domain.AdminKey) (domain.AdminKey, error)) (domain.AdminKey, error) {
	var out domain.AdminKey
	err := d.withTx(ctx, func(tx *Tx) error {
		old, err := scanAdminKey(tx.QueryRowContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE id = ?`, id))
		if err != nil {
			return err
		}
		k, err := updater(old)
		if err != nil {
			return err
		}
		k.ID = old.ID
		if _, err := tx.ExecContext(ctx, `UPDATE admin_keys SET name = ?, hash = ?, created_at = ?, revoked_at = ? WHERE id = ?`,
			k.Name, k.Hash, toNS(k.CreatedAt), toNullNS(k.RevokedAt), id); err != nil {
			return mapErr(err)
		}
		out = k
		return nil
	})
	return out, err
}
