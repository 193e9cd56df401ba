-- Dashboard sign-in sessions live in the database, so that they survive a
-- restart and work on every replica. Nothing here opens without the
-- browser's cookie, which is never stored: id is the SHA-256 of the cookie
-- value, and the admin key, the CSRF token and the one-time items are
-- sealed (AES-256-GCM) under a key derived from that value by the
-- dashboard (issuer/ui/seal.go). Tables of dashboard sign-ins are named
-- ui_*: svcauth migrate-store does not copy them (operators sign in again).
CREATE TABLE ui_sessions (
	id               TEXT PRIMARY KEY, -- hex SHA-256 of the cookie value
	actor            TEXT NOT NULL,    -- the admin key's name
	sealed_admin_key BLOB NOT NULL,
	sealed_csrf      BLOB NOT NULL,
	created_at       INTEGER NOT NULL, -- Unix ns
	last_used_at     INTEGER NOT NULL  -- Unix ns, written at most about once a minute
);
-- Expiry and the least-recently-used bound (PruneUISessions).
CREATE INDEX ui_sessions_last_used ON ui_sessions (last_used_at);
CREATE INDEX ui_sessions_created ON ui_sessions (created_at);

-- A session's one-time items: its flash message (slot 'flash') and client
-- secrets waiting for their page (random slots), each taken (deleted) when
-- shown.
CREATE TABLE ui_session_items (
	session_id TEXT NOT NULL REFERENCES ui_sessions (id) ON DELETE CASCADE,
	slot       TEXT NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('flash', 'secret')),
	sealed     BLOB NOT NULL,
	created_at INTEGER NOT NULL, -- Unix ns
	PRIMARY KEY (session_id, slot)
);
