package sqlstore

import (
	"context"
	"time"

	"github.com/svcauth/svcauth/issuer/storage"
)

// Dashboard sign-in sessions (migrations: SQLite 0007, PostgreSQL 0003).
// Every value arrives sealed by the dashboard; these queries only store,
// expire and hand back ciphertext.

const uiSessionColumns = `id, actor, sealed_admin_key, sealed_csrf, created_at, last_used_at`

// CreateUISession implements storage.Storage.
func (d *DB) CreateUISession(ctx context.Context, s storage.UISession) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO ui_sessions (`+uiSessionColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, s.Actor, s.SealedAdminKey, s.SealedCSRF, toNS(s.CreatedAt), toNS(s.LastUsedAt))
	return mapErr(err)
}

// GetUISession implements storage.Storage.
func (d *DB) GetUISession(ctx context.Context, id string) (storage.UISession, error) {
	var (
		s                 storage.UISession
		created, lastUsed int64
	)
	err := d.db.QueryRowContext(ctx, `SELECT `+uiSessionColumns+`,
		EXISTS (SELECT 1 FROM ui_session_items AS i WHERE i.session_id = ui_sessions.id AND i.kind = 'flash')
		FROM ui_sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.Actor, &s.SealedAdminKey, &s.SealedCSRF, &created, &lastUsed, &s.HasFlash)
	if err != nil {
		return storage.UISession{}, mapErr(err)
	}
	s.CreatedAt, s.LastUsedAt = fromNS(created), fromNS(lastUsed)
	return s, nil
}

// TouchUISession implements storage.Storage: one UPDATE, which two
// replicas touching one session at once cannot turn backwards.
func (d *DB) TouchUISession(ctx context.Context, id string, at time.Time) error {
	_, err := d.db.ExecContext(ctx, `UPDATE ui_sessions SET last_used_at = ?1 WHERE id = ?2 AND last_used_at < ?1`, toNS(at), id)
	return mapErr(err)
}

// DeleteUISession implements storage.Storage; items go with the session
// (ON DELETE CASCADE).
func (d *DB) DeleteUISession(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE id = ?`, id)
	return affectedOne(res, err)
}

// PruneUISessions implements storage.Storage, in one transaction so that
// the count the bound is applied to is the one deleted from.
func (d *DB) PruneUISessions(ctx context.Context, usedBy, createdBy time.Time, keep int) (int64, error) {
	bound := int64(max(keep, 0))
	var deleted int64
	err := d.withTx(ctx, func(tx *Tx) error {
		deleted = 0
		res, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE last_used_at <= ? OR created_at <= ?`, toNS(usedBy), toNS(createdBy))
		if err != nil {
			return mapErr(err)
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return mapErr(err)
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ui_sessions`).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n <= bound {
			return nil
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE id IN
			(SELECT id FROM ui_sessions ORDER BY last_used_at, created_at, id LIMIT ?)`, n-bound)
		if err != nil {
			return mapErr(err)
		}
		lru, err := res.RowsAffected()
		deleted += lru
		return mapErr(err)
	})
	return deleted, err
}

// PutUISessionItem implements storage.Storage. The session's foreign key
// turns a missing session into ErrNotFound (both backends map it so).
func (d *DB) PutUISessionItem(ctx context.Context, it storage.UISessionItem, keep int) error {
	return d.withTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ui_session_items (session_id, slot, kind, sealed, created_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (session_id, slot) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed, created_at = excluded.created_at`,
			it.SessionID, it.Slot, it.Kind, it.Sealed, toNS(it.CreatedAt)); err != nil {
			return mapErr(err)
		}
		if keep <= 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM ui_session_items WHERE session_id = ?1 AND kind = ?2 AND slot NOT IN
			(SELECT slot FROM ui_session_items WHERE session_id = ?1 AND kind = ?2 ORDER BY created_at DESC, slot DESC LIMIT ?3)`,
			it.SessionID, it.Kind, keep)
		return mapErr(err)
	})
}

// TakeUISessionItem implements storage.Storage with DELETE … RETURNING
// (SQLite ≥ 3.35, PostgreSQL): the row is gone in the statement that
// reads it, so a second taker, on this replica or another, finds nothing.
func (d *DB) TakeUISessionItem(ctx context.Context, sessionID, kind, slot string) (storage.UISessionItem, error) {
	it := storage.UISessionItem{SessionID: sessionID, Kind: kind, Slot: slot}
	var created int64
	err := d.db.QueryRowContext(ctx, `DELETE FROM ui_session_items WHERE session_id = ? AND kind = ? AND slot = ?
		RETURNING sealed, created_at`, sessionID, kind, slot).Scan(&it.Sealed, &created)
	if err != nil {
		return storage.UISessionItem{}, mapErr(err)
	}
	it.CreatedAt = fromNS(created)
	return it, nil
}
