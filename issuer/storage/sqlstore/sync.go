package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// The key ring, revocations and sync generation (migrations 0003, 0006).
// The revocation of a deleted token and every bump of the sync generation
// are made by triggers, in the transaction of the change itself; an app's
// first key is inserted by CreateApp in its transaction.

const appKeyColumns = `app_id, version, created_at, activates_at, retires_at, algorithm, public_key, sealed_private_key`

func scanAppKey(r rowScanner) (domain.AppKey, error) {
	var (
		k                  domain.AppKey
		created, activates int64
		retires            sql.NullInt64
	)
	if err := r.Scan(&k.AppID, &k.Version, &created, &activates, &retires, &k.Algorithm, &k.PublicKey, &k.SealedPrivateKey); err != nil {
		return domain.AppKey{}, mapErr(err)
	}
	k.CreatedAt, k.ActivatesAt, k.RetiresAt = fromNS(created), fromNS(activates), fromNullNS(retires)
	return k, nil
}

func insertAppKey(ctx context.Context, tx *Tx, appID string, k domain.AppKey) error {
	alg := k.Algorithm
	if alg == "" {
		alg = session.HS256
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO app_keys (`+appKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		appID, k.Version, toNS(k.CreatedAt), toNS(k.ActivatesAt), toNullNS(k.RetiresAt), alg, nullBlob(k.PublicKey), nullBlob(k.SealedPrivateKey))
	return mapErr(err)
}

// nullBlob stores an empty key half as NULL, which the schema's checks
// require of HS256 keys.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func listAppKeys(ctx context.Context, q querier, appID string) ([]domain.AppKey, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM apps WHERE id = ?`, appID).Scan(&n); err != nil {
		return nil, mapErr(err)
	}
	if n == 0 {
		return nil, storage.ErrNotFound
	}
	rows, err := q.QueryContext(ctx, `SELECT `+appKeyColumns+` FROM app_keys WHERE app_id = ? ORDER BY version`, appID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.AppKey{}
	for rows.Next() {
		k, err := scanAppKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, mapErr(rows.Err())
}

// ListAppKeys implements storage.Storage.
func (d *DB) ListAppKeys(ctx context.Context, appID string) ([]domain.AppKey, error) {
	return listAppKeys(ctx, d.db, appID)
}

// UpdateAppKeys implements storage.Storage.
func (d *DB) UpdateAppKeys(ctx context.Context, appID string, updater func(domain.App, []domain.AppKey) ([]domain.AppKey, error)) ([]domain.AppKey, error) {
	var out []domain.AppKey
	err := d.withTx(ctx, func(tx *Tx) error {
		app, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, appID))
		if err != nil {
			return err
		}
		old, err := listAppKeys(ctx, tx, appID)
		if err != nil {
			return err
		}
		byVersion := make(map[int]domain.AppKey, len(old))
		for _, k := range old {
			byVersion[k.Version] = k
		}
		keys, err := updater(app, append([]domain.AppKey(nil), old...))
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return errors.New("storage: an app must keep at least one key")
		}
		seen := make(map[int]bool, len(keys))
		maxVersion := 0
		for _, k := range keys {
			if k.Version < 1 {
				return fmt.Errorf("storage: app key version %d: must be positive", k.Version)
			}
			if seen[k.Version] {
				return fmt.Errorf("storage: app key version %d given twice", k.Version)
			}
			seen[k.Version] = true
			maxVersion = max(maxVersion, k.Version)
			prev, exists := byVersion[k.Version]
			switch {
			case !exists:
				err = insertAppKey(ctx, tx, appID, k)
			case !sameMaterial(prev, k):
				return fmt.Errorf("storage: app key version %d: key material cannot change", k.Version)
			case !sameKey(prev, k):
				_, err = tx.ExecContext(ctx, `UPDATE app_keys SET created_at = ?, activates_at = ?, retires_at = ?
					WHERE app_id = ? AND version = ?`, toNS(k.CreatedAt), toNS(k.ActivatesAt), toNullNS(k.RetiresAt), appID, k.Version)
			}
			if err != nil {
				return mapErr(err)
			}
		}
		for v := range byVersion {
			if !seen[v] {
				if _, err := tx.ExecContext(ctx, `DELETE FROM app_keys WHERE app_id = ? AND version = ?`, appID, v); err != nil {
					return mapErr(err)
				}
			}
		}
		newestAlg := session.HS256
		for _, k := range keys {
			if k.Version == maxVersion && k.Algorithm != "" {
				newestAlg = k.Algorithm
			}
		}
		if maxVersion != app.KeyVersion || newestAlg != app.SessionAlgorithm {
			if _, err := tx.ExecContext(ctx, `UPDATE apps SET key_version = ?, session_algorithm = ? WHERE id = ?`, maxVersion, newestAlg, appID); err != nil {
				return mapErr(err)
			}
		}
		out, err = listAppKeys(ctx, tx, appID)
		return err
	})
	return out, err
}

// sameMaterial reports whether a and b are the same key: a version's
// algorithm and key are fixed when it is created.
func sameMaterial(a, b domain.AppKey) bool {
	algA, algB := a.Algorithm, b.Algorithm
	if algA == "" {
		algA = session.HS256
	}
	if algB == "" {
		algB = session.HS256
	}
	return algA == algB && bytes.Equal(a.PublicKey, b.PublicKey) && bytes.Equal(a.SealedPrivateKey, b.SealedPrivateKey)
}

func sameKey(a, b domain.AppKey) bool {
	return a.CreatedAt.Equal(b.CreatedAt) && a.ActivatesAt.Equal(b.ActivatesAt) &&
		((a.RetiresAt == nil) == (b.RetiresAt == nil)) && (a.RetiresAt == nil || a.RetiresAt.Equal(*b.RetiresAt))
}

// SyncGeneration implements storage.Storage.
func (d *DB) SyncGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := d.db.QueryRowContext(ctx, `SELECT generation FROM sync_state WHERE id = 1`).Scan(&g)
	return g, mapErr(err)
}

// ListRevokedTokens implements storage.Storage.
func (d *DB) ListRevokedTokens(ctx context.Context, since time.Time) ([]domain.TokenRevocation, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT id, sessions_revoked_at FROM service_tokens WHERE sessions_revoked_at >= ?1
		UNION ALL
		SELECT token_id, revoked_at FROM token_revocations WHERE revoked_at >= ?1
		ORDER BY 1`, toNS(since))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.TokenRevocation{}
	for rows.Next() {
		var (
			r  domain.TokenRevocation
			ns int64
		)
		if err := rows.Scan(&r.TokenID, &ns); err != nil {
			return nil, mapErr(err)
		}
		r.RevokedAt = fromNS(ns)
		// A token id cannot be both live and deleted, but keep the latest
		// should a backup restore make it so.
		if n := len(out); n > 0 && out[n-1].TokenID == r.TokenID {
			if r.RevokedAt.After(out[n-1].RevokedAt) {
				out[n-1] = r
			}
			continue
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// ListSecretGraceEnds implements storage.Storage.
func (d *DB) ListSecretGraceEnds(ctx context.Context, since time.Time) ([]domain.SecretGraceEnd, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, previous_secret_expires_at FROM service_tokens
		WHERE previous_secret_expires_at >= ? ORDER BY id`, toNS(since))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.SecretGraceEnd{}
	for rows.Next() {
		var (
			g  domain.SecretGraceEnd
			ns int64
		)
		if err := rows.Scan(&g.TokenID, &ns); err != nil {
			return nil, mapErr(err)
		}
		g.EndsAt = fromNS(ns)
		out = append(out, g)
	}
	return out, mapErr(rows.Err())
}

// ListDisabledTokenIDs implements storage.Storage.
func (d *DB) ListDisabledTokenIDs(ctx context.Context) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id FROM service_tokens WHERE enabled = 0 ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, id)
	}
	return out, mapErr(rows.Err())
}

// DeleteTokenRevocationsBefore implements storage.Storage.
func (d *DB) DeleteTokenRevocationsBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM token_revocations WHERE revoked_at < ?`, toNS(before))
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(err)
}
