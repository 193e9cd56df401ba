-- Initial schema. Times are Unix nanoseconds (UTC); NULL means "never".

CREATE TABLE service_tokens (
	id                         TEXT PRIMARY KEY,
	name                       TEXT NOT NULL UNIQUE,
	client_id                  TEXT NOT NULL UNIQUE,
	secret_hash                BLOB NOT NULL,
	previous_secret_hash       BLOB,
	previous_secret_expires_at INTEGER,
	client_secret_version      INTEGER NOT NULL DEFAULT 1,
	duration_ns                INTEGER NOT NULL, -- 0: forever
	expires_at                 INTEGER,
	enabled                    INTEGER NOT NULL,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	last_seen_at               INTEGER
);

CREATE TABLE apps (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL UNIQUE,
	domains             TEXT NOT NULL, -- JSON array of strings
	aud                 TEXT NOT NULL UNIQUE,
	session_duration_ns INTEGER NOT NULL,
	key_version         INTEGER NOT NULL,
	sessions_not_before INTEGER,
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL
);

CREATE TABLE policies (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	decision      TEXT NOT NULL,
	include_rules TEXT NOT NULL, -- JSON array of rules
	exclude_rules TEXT NOT NULL,
	precedence    INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE INDEX policies_app ON policies (app_id, precedence);

-- Which tokens each policy's rules name: answers "may this token be
-- deleted?" without reading every policy. Deliberately no foreign key to
-- service_tokens: a forced delete leaves rules that can never match.
CREATE TABLE policy_token_refs (
	policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
	token_id  TEXT NOT NULL,
	PRIMARY KEY (policy_id, token_id)
);
CREATE INDEX policy_token_refs_token ON policy_token_refs (token_id);

CREATE TABLE admin_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);

CREATE TABLE audit_events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL,
	event      TEXT NOT NULL,
	actor      TEXT NOT NULL,
	token_id   TEXT NOT NULL,
	token_name TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	app_id     TEXT NOT NULL,
	app_name   TEXT NOT NULL,
	policy_id  TEXT NOT NULL,
	source_ip  TEXT NOT NULL,
	request_id TEXT NOT NULL,
	reason     TEXT NOT NULL,
	detail     TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_token ON audit_events (token_id, id);
CREATE INDEX audit_events_app ON audit_events (app_id, id);
CREATE INDEX audit_events_event ON audit_events (event, id);
