-- Attempt search and endpoint statistics (issue 15). Time ranges need no index on attempted_at: an attempt's id begins
-- with the millisecond it was made (SortableId, from the instant recorded as attempted_at), so a time range is an id
-- range on the (…, id) indexes, which also give the newest-first order. Measured at 10 M attempts:
-- docs/queries/attempts-10m.md.

-- The application-wide search, newest first. Without it a small application's page walks the primary key through
-- every other application's attempts. One more index entry per attempt, at the right edge of its application's range
-- (ids grow with time), so few pages are hot: ~65 bytes an attempt.
CREATE INDEX delivery_attempts_by_application ON delivery_attempts (application_id, id);

-- The per-endpoint list keeps its (endpoint_id, id) key; the columns the statistics read ride along, so an endpoint's
-- statistics over a window are an index-only scan of that window (the table is insert-only, so the visibility map stays
-- set) instead of a heap visit per attempt. It replaces the old index rather than adding one: the same entries per
-- insert, ~20 bytes wider (error is null unless the attempt got no response). Rebuilding it holds writes to
-- delivery_attempts for the build (about a minute at 10 M attempts on a small server).
DROP INDEX delivery_attempts_by_endpoint;
CREATE INDEX delivery_attempts_by_endpoint ON delivery_attempts (endpoint_id, id) INCLUDE (status, http_status, latency_ms, error);

-- status and http_status are not independent (5xx means failed): without joint statistics the planner multiplies their
-- selectivities, underestimates "status=failed&statusClass=5xx" tenfold and picks worse plans. Costs only ANALYZE time.
CREATE STATISTICS delivery_attempts_outcome (mcv) ON status, http_status FROM delivery_attempts;
