-- When the periodic maintenance (audit retention, inactive-token clean-up,
-- pruning revocations) last ran, so that of several replicas one runs it
-- per interval (DB.ClaimMaintenance).
CREATE TABLE maintenance_runs (
	name     TEXT PRIMARY KEY,
	last_run BIGINT NOT NULL -- Unix ns
);
