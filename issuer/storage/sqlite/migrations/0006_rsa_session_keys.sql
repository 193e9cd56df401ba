-- Issue 13: RS256 session keys. An HS256 key is still derived from the
-- master key and never stored; an RS256 key stores its public half (PKIX
-- DER) and its private half sealed under a key derived from the master key
-- (AES-256-GCM, bound to the app's aud and the kid).
ALTER TABLE app_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'HS256'
	CHECK (algorithm IN ('HS256', 'RS256'));
ALTER TABLE app_keys ADD COLUMN public_key BLOB
	CHECK ((public_key IS NULL) = (algorithm = 'HS256'));
ALTER TABLE app_keys ADD COLUMN sealed_private_key BLOB
	CHECK ((sealed_private_key IS NULL) = (algorithm = 'HS256'));

-- The algorithm of the app's newest key: what it signs with once that key
-- activates, and what a rotation generates.
ALTER TABLE apps ADD COLUMN session_algorithm TEXT NOT NULL DEFAULT 'HS256'
	CHECK (session_algorithm IN ('HS256', 'RS256'));

-- The first key now carries material the database cannot make: CreateApp
-- inserts it in the same transaction as the app.
DROP TRIGGER apps_first_key;
