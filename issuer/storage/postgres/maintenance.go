package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ClaimMaintenance reports whether this replica should run the periodic
// job name now: true for the first replica to ask after about one interval
// (every, less a tenth for the replicas' timer jitter) since the last run
// anywhere, false for the others. The claim is one atomic statement, so
// two replicas asking at once cannot both win.
func (d *DB) ClaimMaintenance(ctx context.Context, name string, every time.Duration, now time.Time) (bool, error) {
	var got string
	err := d.SQL().QueryRowContext(ctx, `INSERT INTO maintenance_runs (name, last_run) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET last_run = EXCLUDED.last_run WHERE maintenance_runs.last_run <= $3
		RETURNING name`, name, now.UnixNano(), now.Add(-every+every/10).UnixNano()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
