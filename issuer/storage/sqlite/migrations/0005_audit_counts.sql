-- Identical exchange denials within a window are stored as one row (an
-- unauthenticated flood must cost O(windows) rows, not one per request):
-- count is how many, first_time (ns) the first of them; time is the last.
-- A single event has count 1 and first_time = time.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN first_time INTEGER NOT NULL DEFAULT 0;
UPDATE audit_events SET first_time = time;
