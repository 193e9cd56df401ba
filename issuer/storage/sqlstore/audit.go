package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

const auditColumns = `id, time, event, actor, token_id, token_name, client_id, app_id, app_name, policy_id,
	source_ip, request_id, reason, detail, count, first_time`

// AppendAudit implements storage.Storage.
func (d *DB) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	if e.Time.IsZero() {
		return domain.AuditEvent{}, errors.New("storage: audit event without a time")
	}
	if e.Event == "" {
		return domain.AuditEvent{}, errors.New("storage: audit event without a name")
	}
	e = e.Normalized()
	err := d.db.QueryRowContext(ctx, `INSERT INTO audit_events (time, event, actor, token_id, token_name, client_id,
		app_id, app_name, policy_id, source_ip, request_id, reason, detail, count, first_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		toNS(e.Time), e.Event, e.Actor, e.TokenID, e.TokenName, e.ClientID, e.AppID, e.AppName, e.PolicyID,
		e.SourceIP, e.RequestID, e.Reason, e.Detail, e.Count, toNS(e.FirstTime)).Scan(&e.ID)
	if err != nil {
		return domain.AuditEvent{}, mapErr(err)
	}
	e.Time, e.FirstTime = fromNS(toNS(e.Time)), fromNS(toNS(e.FirstTime))
	return e, nil
}

// ListAudit implements storage.Storage.
func (d *DB) ListAudit(ctx context.Context, f storage.AuditFilter) ([]domain.AuditEvent, error) {
	var lq listQuery
	if f.TokenID != "" {
		lq.add("token_id = ?", f.TokenID)
	}
	if f.AppID != "" {
		lq.add("app_id = ?", f.AppID)
	}
	if f.Event != "" {
		lq.add("event = ?", f.Event)
	}
	if !f.Since.IsZero() {
		lq.add("time >= ?", toNS(f.Since))
	}
	if !f.Until.IsZero() {
		lq.add("time < ?", toNS(f.Until))
	}
	if f.BeforeID > 0 {
		// After that event in the listing order. When it is gone (retention
		// deleted it, and everything older), nothing follows.
		lq.add("(time, id) < (SELECT time, id FROM audit_events WHERE id = ?)", f.BeforeID)
	}
	q, args := lq.build(auditColumns+" FROM audit_events", "time DESC, id DESC", f.Limit)
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.AuditEvent{}
	for rows.Next() {
		var (
			e           domain.AuditEvent
			ns, firstNS int64
		)
		if err := rows.Scan(&e.ID, &ns, &e.Event, &e.Actor, &e.TokenID, &e.TokenName, &e.ClientID, &e.AppID,
			&e.AppName, &e.PolicyID, &e.SourceIP, &e.RequestID, &e.Reason, &e.Detail, &e.Count, &firstNS); err != nil {
			return nil, mapErr(err)
		}
		e.Time, e.FirstTime = fromNS(ns), fromNS(firstNS)
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// DeleteAuditBefore implements storage.Storage.
func (d *DB) DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM audit_events WHERE time < ?`, toNS(before))
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(err)
}
