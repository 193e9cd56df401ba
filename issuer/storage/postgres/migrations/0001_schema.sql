-- The PostgreSQL schema: the same tables, columns and rules as SQLite's
-- migrations 0001-0006 (storage/sqlite/migrations), so that storage/sqlstore's
-- queries run unchanged on both. Times are Unix nanoseconds (UTC) in BIGINT;
-- NULL means "never". Triggers keep the rules in the database, in the
-- transaction of the change, whoever makes it: the retired client ids, the
-- revocation of a deleted token and the sync generation. Changes other
-- replicas must see are announced with NOTIFY svcauth_changes.

CREATE TABLE service_tokens (
	id                         TEXT PRIMARY KEY,
	name                       TEXT NOT NULL UNIQUE,
	client_id                  TEXT NOT NULL UNIQUE,
	secret_hash                BYTEA NOT NULL,
	previous_secret_hash       BYTEA,
	previous_secret_expires_at BIGINT,
	client_secret_version      BIGINT NOT NULL DEFAULT 1,
	duration_ns                BIGINT NOT NULL, -- 0: forever
	expires_at                 BIGINT,
	enabled                    INTEGER NOT NULL,
	created_at                 BIGINT NOT NULL,
	updated_at                 BIGINT NOT NULL,
	last_seen_at               BIGINT,
	sessions_revoked_at        BIGINT
);
CREATE INDEX service_tokens_sessions_revoked ON service_tokens (sessions_revoked_at)
	WHERE sessions_revoked_at IS NOT NULL;
CREATE INDEX service_tokens_disabled ON service_tokens (id) WHERE enabled = 0;
CREATE INDEX service_tokens_previous_secret_expires ON service_tokens (previous_secret_expires_at)
	WHERE previous_secret_expires_at IS NOT NULL;

CREATE TABLE apps (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL UNIQUE,
	domains             TEXT NOT NULL, -- JSON array of strings
	aud                 TEXT NOT NULL UNIQUE,
	session_duration_ns BIGINT NOT NULL,
	key_version         BIGINT NOT NULL,
	sessions_not_before BIGINT,
	created_at          BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL,
	session_algorithm   TEXT NOT NULL DEFAULT 'HS256' CHECK (session_algorithm IN ('HS256', 'RS256'))
);

CREATE TABLE policies (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	decision      TEXT NOT NULL,
	include_rules TEXT NOT NULL, -- JSON array of rules
	exclude_rules TEXT NOT NULL,
	precedence    BIGINT NOT NULL,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX policies_app ON policies (app_id, precedence);

-- Which tokens each policy's rules name. No foreign key to service_tokens:
-- a forced delete leaves rules that can never match.
CREATE TABLE policy_token_refs (
	policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
	token_id  TEXT NOT NULL,
	PRIMARY KEY (policy_id, token_id)
);
CREATE INDEX policy_token_refs_token ON policy_token_refs (token_id);

CREATE TABLE admin_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	hash       BYTEA NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT
);

CREATE TABLE audit_events (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time       BIGINT NOT NULL,
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
	detail     TEXT NOT NULL,
	count      BIGINT NOT NULL DEFAULT 1,
	first_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_token ON audit_events (token_id, id);
CREATE INDEX audit_events_app ON audit_events (app_id, id);
CREATE INDEX audit_events_event ON audit_events (event, id);

-- A deleted token's client id is retired for good.
CREATE TABLE retired_client_ids (
	client_id TEXT PRIMARY KEY,
	token_id  TEXT NOT NULL
);

-- Key versions of each application (see SQLite's 0003 and 0006).
CREATE TABLE app_keys (
	app_id             TEXT   NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	version            BIGINT NOT NULL,
	created_at         BIGINT NOT NULL,
	activates_at       BIGINT NOT NULL,
	retires_at         BIGINT,
	algorithm          TEXT   NOT NULL DEFAULT 'HS256' CHECK (algorithm IN ('HS256', 'RS256')),
	public_key         BYTEA,
	sealed_private_key BYTEA,
	PRIMARY KEY (app_id, version),
	CHECK ((public_key IS NULL) = (algorithm = 'HS256')),
	CHECK ((sealed_private_key IS NULL) = (algorithm = 'HS256'))
);

CREATE TABLE token_revocations (
	token_id   TEXT PRIMARY KEY,
	revoked_at BIGINT NOT NULL
);
CREATE INDEX token_revocations_time ON token_revocations (revoked_at);

CREATE TABLE sync_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation BIGINT NOT NULL
);
INSERT INTO sync_state (id, generation) VALUES (1, 1);

CREATE FUNCTION svcauth_bump_sync() RETURNS void LANGUAGE sql AS
	$$ UPDATE sync_state SET generation = generation + 1 WHERE id = 1 $$;

-- Every bump of the generation, and every change of what the issuers cache
-- (tokens, apps, policies, keys), is announced to the other replicas.
CREATE FUNCTION svcauth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('svcauth_changes', TG_TABLE_NAME);
	RETURN NULL;
END $$;

CREATE FUNCTION service_tokens_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (TG_OP = 'INSERT' OR NEW.client_id <> OLD.client_id)
		AND EXISTS (SELECT 1 FROM retired_client_ids WHERE client_id = NEW.client_id) THEN
		RAISE EXCEPTION 'svcauth: client id retired';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER service_tokens_refuse_retired BEFORE INSERT OR UPDATE OF client_id ON service_tokens
	FOR EACH ROW EXECUTE FUNCTION service_tokens_before();

CREATE FUNCTION service_tokens_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO retired_client_ids (client_id, token_id) VALUES (OLD.client_id, OLD.id) ON CONFLICT DO NOTHING;
	INSERT INTO token_revocations (token_id, revoked_at)
		VALUES (OLD.id, COALESCE(OLD.sessions_revoked_at, (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint))
		ON CONFLICT (token_id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at;
	PERFORM svcauth_bump_sync();
	RETURN NULL;
END $$;
CREATE TRIGGER service_tokens_delete AFTER DELETE ON service_tokens
	FOR EACH ROW EXECUTE FUNCTION service_tokens_after_delete();

CREATE FUNCTION bump_sync_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM svcauth_bump_sync();
	RETURN NULL;
END $$;
CREATE TRIGGER service_tokens_sync AFTER UPDATE ON service_tokens FOR EACH ROW
	WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
		OR OLD.sessions_revoked_at IS DISTINCT FROM NEW.sessions_revoked_at
		OR OLD.previous_secret_expires_at IS DISTINCT FROM NEW.previous_secret_expires_at)
	EXECUTE FUNCTION bump_sync_trigger();
CREATE TRIGGER apps_sync_update AFTER UPDATE ON apps FOR EACH ROW
	WHEN (OLD.sessions_not_before IS DISTINCT FROM NEW.sessions_not_before
		OR OLD.session_duration_ns IS DISTINCT FROM NEW.session_duration_ns
		OR OLD.aud IS DISTINCT FROM NEW.aud
		OR OLD.key_version IS DISTINCT FROM NEW.key_version)
	EXECUTE FUNCTION bump_sync_trigger();
CREATE TRIGGER apps_sync_delete AFTER DELETE ON apps FOR EACH ROW EXECUTE FUNCTION bump_sync_trigger();
CREATE TRIGGER app_keys_sync AFTER INSERT OR UPDATE OR DELETE ON app_keys FOR EACH ROW EXECUTE FUNCTION bump_sync_trigger();

-- Notifications. A token's last_seen_at (written in batches after
-- exchanges) is not a change other replicas need to hear of.
CREATE TRIGGER service_tokens_notify AFTER INSERT OR DELETE ON service_tokens
	FOR EACH STATEMENT EXECUTE FUNCTION svcauth_notify();
CREATE TRIGGER service_tokens_notify_update AFTER UPDATE ON service_tokens FOR EACH ROW
	WHEN ((OLD.name, OLD.client_id, OLD.secret_hash, OLD.previous_secret_hash, OLD.previous_secret_expires_at,
		OLD.client_secret_version, OLD.duration_ns, OLD.expires_at, OLD.enabled, OLD.sessions_revoked_at)
		IS DISTINCT FROM (NEW.name, NEW.client_id, NEW.secret_hash, NEW.previous_secret_hash, NEW.previous_secret_expires_at,
		NEW.client_secret_version, NEW.duration_ns, NEW.expires_at, NEW.enabled, NEW.sessions_revoked_at))
	EXECUTE FUNCTION svcauth_notify();
CREATE TRIGGER apps_notify AFTER INSERT OR UPDATE OR DELETE ON apps FOR EACH STATEMENT EXECUTE FUNCTION svcauth_notify();
CREATE TRIGGER policies_notify AFTER INSERT OR UPDATE OR DELETE ON policies FOR EACH STATEMENT EXECUTE FUNCTION svcauth_notify();
CREATE TRIGGER app_keys_notify AFTER INSERT OR UPDATE OR DELETE ON app_keys FOR EACH STATEMENT EXECUTE FUNCTION svcauth_notify();
CREATE TRIGGER admin_keys_notify AFTER INSERT OR UPDATE OR DELETE ON admin_keys FOR EACH STATEMENT EXECUTE FUNCTION svcauth_notify();
