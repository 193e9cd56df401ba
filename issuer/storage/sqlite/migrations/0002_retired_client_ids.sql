-- A deleted service token's client id is retired for good: no token can be
-- created or imported with it again, so a deleted credential (say, one that
-- leaked) can never exchange again, whatever an operator later re-imports.
-- Triggers keep the rule in the database, whoever deletes the token.

CREATE TABLE retired_client_ids (
	client_id TEXT PRIMARY KEY,
	token_id  TEXT NOT NULL
);

CREATE TRIGGER service_tokens_retire_client_id AFTER DELETE ON service_tokens
BEGIN
	INSERT OR IGNORE INTO retired_client_ids (client_id, token_id) VALUES (OLD.client_id, OLD.id);
END;

CREATE TRIGGER service_tokens_refuse_retired_insert BEFORE INSERT ON service_tokens
WHEN EXISTS (SELECT 1 FROM retired_client_ids WHERE client_id = NEW.client_id)
BEGIN
	SELECT RAISE(ABORT, 'svcauth: client id retired');
END;

CREATE TRIGGER service_tokens_refuse_retired_update BEFORE UPDATE OF client_id ON service_tokens
WHEN NEW.client_id <> OLD.client_id AND EXISTS (SELECT 1 FROM retired_client_ids WHERE client_id = NEW.client_id)
BEGIN
	SELECT RAISE(ABORT, 'svcauth: client id retired');
END;
