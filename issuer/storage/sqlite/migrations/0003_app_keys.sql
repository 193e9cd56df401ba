-- Issue 4: per-application key ring, revocation state for filter sync, and
-- the sync generation. Triggers keep the revocation rules and the
-- generation in the database, in the same transaction as the change, whoever
-- makes it.

-- Key versions of each application. Key material is never stored: it is
-- derived from the master key, the app's aud and the kid (aud[:12].v<version>).
CREATE TABLE app_keys (
	app_id       TEXT    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	version      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	activates_at INTEGER NOT NULL, -- the issuer signs with it from then on
	retires_at   INTEGER,          -- no longer published from then on; NULL while newest
	PRIMARY KEY (app_id, version)
);

-- Every existing app keeps its current key, active since the app's creation.
INSERT INTO app_keys (app_id, version, created_at, activates_at)
	SELECT id, key_version, created_at, created_at FROM apps;

-- A new app starts with its first key, active at once.
CREATE TRIGGER apps_first_key AFTER INSERT ON apps
BEGIN
	INSERT INTO app_keys (app_id, version, created_at, activates_at)
		VALUES (NEW.id, NEW.key_version, NEW.created_at, NEW.created_at);
END;

-- Sessions of a token issued at or before this time are revoked (secret
-- rotated without grace). NULL: never.
ALTER TABLE service_tokens ADD COLUMN sessions_revoked_at INTEGER;
CREATE INDEX service_tokens_sessions_revoked ON service_tokens (sessions_revoked_at)
	WHERE sessions_revoked_at IS NOT NULL;
CREATE INDEX service_tokens_disabled ON service_tokens (id) WHERE enabled = 0;

-- Deleted tokens: every session issued at or before revoked_at is revoked.
-- Rows older than the longest session are pruned.
CREATE TABLE token_revocations (
	token_id   TEXT PRIMARY KEY,
	revoked_at INTEGER NOT NULL
);
CREATE INDEX token_revocations_time ON token_revocations (revoked_at);

-- The sync generation: bumped by every change filters must learn about.
CREATE TABLE sync_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation INTEGER NOT NULL
);
INSERT INTO sync_state (id, generation) VALUES (1, 1);

-- A deleted token's sessions are revoked: at the time the issuer stamped
-- on it before deleting, or now.
CREATE TRIGGER service_tokens_revoke_on_delete AFTER DELETE ON service_tokens
BEGIN
	INSERT OR REPLACE INTO token_revocations (token_id, revoked_at)
		VALUES (OLD.id, COALESCE(OLD.sessions_revoked_at, CAST(unixepoch('subsec') * 1000000000 AS INTEGER)));
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_tokens_sync AFTER UPDATE OF enabled, sessions_revoked_at ON service_tokens
WHEN OLD.enabled IS NOT NEW.enabled OR OLD.sessions_revoked_at IS NOT NEW.sessions_revoked_at
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER apps_sync_update AFTER UPDATE ON apps
WHEN OLD.sessions_not_before IS NOT NEW.sessions_not_before
	OR OLD.session_duration_ns IS NOT NEW.session_duration_ns
	OR OLD.aud IS NOT NEW.aud
	OR OLD.key_version IS NOT NEW.key_version
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER apps_sync_delete AFTER DELETE ON apps
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER app_keys_sync_insert AFTER INSERT ON app_keys
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER app_keys_sync_update AFTER UPDATE ON app_keys
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER app_keys_sync_delete AFTER DELETE ON app_keys
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;
