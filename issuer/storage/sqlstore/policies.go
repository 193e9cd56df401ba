package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

const policyColumns = `id, app_id, name, decision, include_rules, exclude_rules, precedence, created_at, updated_at`

func scanPolicy(r rowScanner) (domain.Policy, error) {
	var (
		p                domain.Policy
		decision         string
		include, exclude string
		created, updated int64
	)
	if err := r.Scan(&p.ID, &p.AppID, &p.Name, &decision, &include, &exclude, &p.Precedence, &created, &updated); err != nil {
		return domain.Policy{}, mapErr(err)
	}
	p.Decision = domain.Decision(decision)
	if err := json.Unmarshal([]byte(include), &p.Include); err != nil {
		return domain.Policy{}, fmt.Errorf("storage: policy %s: bad include column: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(exclude), &p.Exclude); err != nil {
		return domain.Policy{}, fmt.Errorf("storage: policy %s: bad exclude column: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = fromNS(created), fromNS(updated)
	return p, nil
}

func policyArgs(p domain.Policy) ([]any, error) {
	include, err := domain.MarshalRules(p.Include)
	if err != nil {
		return nil, err
	}
	exclude, err := domain.MarshalRules(p.Exclude)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.AppID, p.Name, string(p.Decision), string(include), string(exclude), p.Precedence,
		toNS(p.CreatedAt), toNS(p.UpdatedAt)}, nil
}

// writeRefs replaces the policy's rows in policy_token_refs.
func writeRefs(ctx context.Context, tx *Tx, p domain.Policy) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM policy_token_refs WHERE policy_id = ?`, p.ID); err != nil {
		return mapErr(err)
	}
	for _, id := range p.TokenIDs() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_token_refs (policy_id, token_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, p.ID, id); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// CreatePolicy implements storage.Storage.
func (d *DB) CreatePolicy(ctx context.Context, p domain.Policy) (domain.Policy, error) {
	err := d.withTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM apps WHERE id = ?`, p.AppID).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(precedence), 0) + 1 FROM policies WHERE app_id = ?`, p.AppID).Scan(&p.Precedence); err != nil {
			return mapErr(err)
		}
		args, err := policyArgs(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies (`+policyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return mapErr(err)
		}
		return writeRefs(ctx, tx, p)
	})
	if err != nil {
		return domain.Policy{}, err
	}
	return p, nil
}

// GetPolicy implements storage.Storage.
func (d *DB) GetPolicy(ctx context.Context, appID, id string) (domain.Policy, error) {
	return scanPolicy(d.db.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE app_id = ? AND id = ?`, appID, id))
}

// ListPolicies implements storage.Storage.
func (d *DB) ListPolicies(ctx context.Context, appID string) ([]domain.Policy, error) {
	return d.queryPolicies(ctx, `SELECT `+policyColumns+` FROM policies WHERE app_id = ? ORDER BY precedence, created_at, id`, appID)
}

// PoliciesNamingToken implements storage.Storage.
func (d *DB) PoliciesNamingToken(ctx context.Context, tokenID string) ([]domain.Policy, error) {
	return d.queryPolicies(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE id IN (SELECT policy_id FROM policy_token_refs WHERE token_id = ?)
		ORDER BY app_id, precedence, id`, tokenID)
}

func (d *DB) queryPolicies(ctx context.Context, q string, args ...any) ([]domain.Policy, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []domain.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// UpdatePolicy implements storage.Storage. The policy cannot move to another app.
func (d *DB) UpdatePolicy(ctx context.Context, appID, id string, updater func(domain.Policy) (domain.Policy, error)) (domain.Policy, error) {
	var out domain.Policy
	err := d.withTx(ctx, func(tx *Tx) error {
		old, err := scanPolicy(tx.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE app_id = ? AND id = ?`, appID, id))
		if err != nil {
			return err
		}
		p, err := updater(old)
		if err != nil {
			return err
		}
		p.ID, p.AppID = old.ID, old.AppID
		args, err := policyArgs(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET name = ?, decision = ?, include_rules = ?, exclude_rules = ?,
			precedence = ?, created_at = ?, updated_at = ? WHERE id = ?`, append(args[2:], id)...); err != nil {
			return mapErr(err)
		}
		out = p
		return writeRefs(ctx, tx, p)
	})
	return out, err
}

// DeletePolicy implements storage.Storage.
func (d *DB) DeletePolicy(ctx context.Context, appID, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM policies WHERE app_id = ? AND id = ?`, appID, id)
	return affectedOne(res, err)
}
