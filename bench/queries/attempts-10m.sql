-- 10 M delivery attempts for measuring the attempt search and endpoint statistics (docs/queries/attempts-10m.md).
-- Run on a throw-away database with every migration applied (bench/queries/README.md says how). Deterministic
-- (setseed), anchored at 2026-12-01T00:00:00Z so the measured queries' parameters stay the same:
--   * 6 applications, 200 endpoints; endpoint ep_bench_000 (in app_bench_0) gets ~10 % of all attempts (~1 M), the
--     other 199 share the rest with a skew towards the low numbers; endpoint e is app_bench_(e % 5)'s, except the
--     least busy one, ep_bench_199, the only endpoint of a small application, app_bench_5 (~0.3 % of the attempts);
--   * attempted_at spread evenly over the 30 days before the anchor, rows inserted in time order (as the Processor
--     writes them), ids shaped like SortableId ('atmpt_' + 10 time characters + 16 more) of the same millisecond;
--   * ~90 % succeeded (200/201/204), ~5 % failed with 5xx, ~2 % 4xx (a few 302), ~3 % without a response
--     (timeout, connection-refused, dns, tls, connection), realistic latencies and short response bodies.
-- The attempts' foreign key to deliveries is dropped: 9 M messages and deliveries would only slow the load, and
-- none of the measured queries reads them. Do not run this against a database you keep.
\set ON_ERROR_STOP on
SELECT setseed(0.42);

ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_fkey;
TRUNCATE delivery_attempts;
DELETE FROM endpoints WHERE id LIKE 'ep_bench_%';
DELETE FROM applications WHERE id LIKE 'app_bench_%';

-- A SortableId-shaped id: the millisecond in the first 10 Crockford base32 characters, then 16 more from the salt.
CREATE FUNCTION pg_temp.bench_id(prefix text, ms bigint, salt text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT prefix || '_'
        || string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((ms >> (5 * (9 - k))) & 31)::int + 1, 1), '' ORDER BY k)
        || upper(substr(md5(salt), 1, 16))
    FROM generate_series(0, 9) AS k
$$;

INSERT INTO applications (id, name, created_at, updated_at)
SELECT 'app_bench_' || a, 'bench ' || a, '2026-10-01Z', '2026-10-01Z' FROM generate_series(0, 5) AS a;

INSERT INTO endpoints (id, application_id, url, description, created_at, updated_at)
SELECT format('ep_bench_%s', lpad(e::text, 3, '0')), 'app_bench_' || CASE WHEN e = 199 THEN 5 ELSE e % 5 END, format('https://hooks.example.com/%s', e), '',
       '2026-10-01Z', '2026-10-01Z'
FROM generate_series(0, 199) AS e;

-- Ten chunks of 1 M, oldest first, so the heap is in time order as in production.
DO $$
DECLARE
    anchor constant timestamptz := '2026-12-01T00:00:00Z';
    total constant bigint := 10000000;
    step constant interval := interval '30 days' / 10000000;
    chunk int;
BEGIN
    FOR chunk IN 0..9 LOOP
        INSERT INTO delivery_attempts
            (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at)
        SELECT pg_temp.bench_id('atmpt', ms, 'a' || i),
               'app_bench_' || CASE WHEN e = 199 THEN 5 ELSE e % 5 END,
               pg_temp.bench_id('msg', ms - 1000, 'm' || (i / 2)),
               format('ep_bench_%s', lpad(e::text, 3, '0')),
               CASE WHEN r < 0.90 THEN 'succeeded' ELSE 'failed' END,
               CASE WHEN r < 0.85 THEN 200 WHEN r < 0.88 THEN 201 WHEN r < 0.90 THEN 204
                    WHEN r < 0.93 THEN 500 WHEN r < 0.94 THEN 502 WHEN r < 0.95 THEN 503
                    WHEN r < 0.952 THEN 302 WHEN r < 0.96 THEN 400 WHEN r < 0.965 THEN 404 WHEN r < 0.967 THEN 410
                    WHEN r < 0.97 THEN 429 END,
               CASE WHEN r < 0.97 THEN 15 + (-ln(1 - r2) * 120)::int
                    WHEN r < 0.985 THEN 15000
                    ELSE (r2 * 200)::int END,
               CASE WHEN r < 0.45 THEN '{"ok":true}' WHEN r >= 0.90 AND r < 0.95 THEN '<html><body><h1>Bad Gateway</h1></body></html>'
                    WHEN r >= 0.952 AND r < 0.97 THEN '{"error":"rejected"}' END,
               CASE WHEN r < 0.97 THEN NULL WHEN r < 0.985 THEN 'timeout' WHEN r < 0.992 THEN 'connection-refused'
                    WHEN r < 0.996 THEN 'dns' WHEN r < 0.998 THEN 'tls' ELSE 'connection' END,
               at,
               CASE WHEN r >= 0.90 THEN at + interval '5 minutes' END
        FROM (
            SELECT i, at, (extract(epoch FROM at) * 1000)::bigint AS ms, e, r, r2
            FROM (
                SELECT i, anchor - interval '30 days' + step * i AS at,
                       CASE WHEN random() < 0.10 THEN 0 ELSE 1 + floor(199 * power(random(), 1.5))::int END AS e,
                       random() AS r, random() AS r2
                FROM generate_series(chunk * total / 10, (chunk + 1) * total / 10 - 1) AS i
                OFFSET 0
            ) AS drawn
        ) AS attempt
        ORDER BY i;
        RAISE NOTICE 'chunk % of 10 loaded at %', chunk + 1, clock_timestamp();
        COMMIT;
    END LOOP;
END
$$;

-- An insert-only table is vacuumed by autovacuum on its own (PostgreSQL 13+), which sets the visibility map that
-- index-only scans rely on; here it is done at once.
VACUUM (ANALYZE) delivery_attempts;
ANALYZE applications;
ANALYZE endpoints;
