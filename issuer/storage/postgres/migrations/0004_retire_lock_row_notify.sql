-- Two fixes of 0001's triggers for replicas working at the same moment.
--
-- 1. A deleted token's client id stays retired under concurrency. 0001
--    checked retired_client_ids before the insert, but a deletion still in
--    progress has not retired the id yet: the insert then waited on the
--    unique index, found the old row gone when the deletion committed, and
--    a live token held a retired client id. (SQLite serialises writers, so
--    it never could.) Both sides now take a transaction-level advisory lock
--    on the client id first: the insert waits for the deletion, and its
--    check, a new statement snapshot, sees the retired id.
--
-- 2. Notifications are per changed row, not per statement: a statement
--    that changed nothing (a DELETE of an unknown id, an UPDATE matching no
--    row) no longer makes every replica drop its caches. PostgreSQL sends
--    one notification per channel and payload per transaction, so a
--    many-row statement still sends one. admin_keys is not notified at
--    all: no replica caches admin keys (every API call reads them).

CREATE OR REPLACE FUNCTION svcauth_lock_client_id(client_id TEXT) RETURNS void LANGUAGE sql AS
	$$ SELECT pg_advisory_xact_lock(hashtextextended('svcauth/client-id/' || client_id, 0)) $$;

CREATE OR REPLACE FUNCTION service_tokens_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' OR NEW.client_id <> OLD.client_id THEN
		PERFORM svcauth_lock_client_id(NEW.client_id);
		IF EXISTS (SELECT 1 FROM retired_client_ids WHERE client_id = NEW.client_id) THEN
			RAISE EXCEPTION 'svcauth: client id retired';
		END IF;
	END IF;
	RETURN NEW;
END $$;

-- The lock is taken BEFORE the row goes, so that an insert of the same
-- client id queued behind it cannot pass between the delete and the
-- retirement.
CREATE FUNCTION service_tokens_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM svcauth_lock_client_id(OLD.client_id);
	RETURN OLD;
END $$;
CREATE TRIGGER service_tokens_lock_delete BEFORE DELETE ON service_tokens
	FOR EACH ROW EXECUTE FUNCTION service_tokens_before_delete();

DROP TRIGGER service_tokens_notify ON service_tokens;
CREATE TRIGGER service_tokens_notify AFTER INSERT OR DELETE ON service_tokens
	FOR EACH ROW EXECUTE FUNCTION svcauth_notify();
DROP TRIGGER apps_notify ON apps;
CREATE TRIGGER apps_notify AFTER INSERT OR UPDATE OR DELETE ON apps FOR EACH ROW EXECUTE FUNCTION svcauth_notify();
DROP TRIGGER policies_notify ON policies;
CREATE TRIGGER policies_notify AFTER INSERT OR UPDATE OR DELETE ON policies FOR EACH ROW EXECUTE FUNCTION svcauth_notify();
DROP TRIGGER app_keys_notify ON app_keys;
CREATE TRIGGER app_keys_notify AFTER INSERT OR UPDATE OR DELETE ON app_keys FOR EACH ROW EXECUTE FUNCTION svcauth_notify();
DROP TRIGGER admin_keys_notify ON admin_keys;
