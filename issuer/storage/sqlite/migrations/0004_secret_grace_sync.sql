-- Filters must learn when a rotated token's previous secret stops working:
-- their credential cache may still hold a session exchanged with it. A change
-- of previous_secret_expires_at (a rotation with grace, or one replacing it)
-- is a sync change like enable/disable and revocations.
CREATE TRIGGER service_tokens_sync_grace AFTER UPDATE OF previous_secret_expires_at ON service_tokens
WHEN OLD.previous_secret_expires_at IS NOT NEW.previous_secret_expires_at
BEGIN
	UPDATE sync_state SET generation = generation + 1 WHERE id = 1;
END;

CREATE INDEX service_tokens_previous_secret_expires ON service_tokens (previous_secret_expires_at)
	WHERE previous_secret_expires_at IS NOT NULL;
