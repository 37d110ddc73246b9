-- The attempt search and endpoint statistics exactly as AttemptService and EndpointStatsService send them (the
-- conditions AttemptQuery.Where builds, in its order), parameters filled in, over the data of attempts-10m.sql.
-- Id bounds are SortableId.Lowest('atmpt', t): after → Lowest(after + 1 ms), before/until → Lowest(before),
-- since → Lowest(since). The page size is the default 50, so LIMIT 51 (one more row says whether a next page exists).
\set ON_ERROR_STOP on
\timing on

\echo '=== 1. search: application-wide, newest page, a big application (GET /apps/app_bench_0/attempts)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE application_id = 'app_bench_0'
ORDER BY id DESC LIMIT 51;

\echo '=== 1b. search: application-wide, newest page, a small application (0.3 % of the attempts) (GET /apps/app_bench_5/attempts)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE application_id = 'app_bench_5'
ORDER BY id DESC LIMIT 51;

\echo '=== 2. search: the big endpoint, failed, 5xx, last 24 h (GET /apps/app_bench_0/endpoints/ep_bench_000/attempts?status=failed&statusClass=5xx&after=2026-11-30T00:00:00Z&before=2026-12-01T00:00:00Z)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND status = 'failed' AND http_status BETWEEN 500 AND 599 AND id >= 'atmpt_01M8MW0N010000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000'
ORDER BY id DESC LIMIT 51;

\echo '=== 2b. the same for a quieter endpoint (ep_bench_150, ~33 000 attempts in 30 days, 3 % of the big one) (GET /apps/app_bench_0/endpoints/ep_bench_150/attempts?status=failed&statusClass=5xx&after=…&before=…)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_150' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_150') AND status = 'failed' AND http_status BETWEEN 500 AND 599 AND id >= 'atmpt_01M8MW0N010000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000'
ORDER BY id DESC LIMIT 51;

\echo '=== 3. search: application-wide, an hour 29 days ago (GET /apps/app_bench_0/attempts?after=2026-11-02T00:00:00Z&before=2026-11-02T01:00:00Z)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE application_id = 'app_bench_0' AND id >= 'atmpt_01M6CRWH010000000000000000' AND id < 'atmpt_01M6CWACM00000000000000000'
ORDER BY id DESC LIMIT 51;

-- The iterator the first page of query 3 returns: its 50th id.
SELECT id AS iterator FROM delivery_attempts
WHERE application_id = 'app_bench_0' AND id >= 'atmpt_01M6CRWH010000000000000000' AND id < 'atmpt_01M6CWACM00000000000000000'
ORDER BY id DESC OFFSET 49 LIMIT 1 \gset
\echo '=== 3b. its second page (&iterator=' :iterator ')'
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE application_id = 'app_bench_0' AND id >= 'atmpt_01M6CRWH010000000000000000' AND id < 'atmpt_01M6CWACM00000000000000000' AND id < :'iterator'
ORDER BY id DESC LIMIT 51;

\echo '=== 4. stats: the big endpoint (~1 M attempts in 30 days), last 24 h (GET /apps/app_bench_0/endpoints/ep_bench_000/stats?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z): the three statements of its one batch'
EXPLAIN (ANALYZE, BUFFERS)
SELECT EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000');
EXPLAIN (ANALYZE, BUFFERS)
SELECT count(*),
       count(*) FILTER (WHERE status = 'succeeded'),
       count(*) FILTER (WHERE status = 'failed'),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
       count(*) FILTER (WHERE http_status BETWEEN 200 AND 299),
       count(*) FILTER (WHERE http_status BETWEEN 300 AND 399),
       count(*) FILTER (WHERE http_status BETWEEN 400 AND 499),
       count(*) FILTER (WHERE http_status BETWEEN 500 AND 599),
       count(*) FILTER (WHERE http_status IS NULL)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND id >= 'atmpt_01M8MW0N000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000';
EXPLAIN (ANALYZE, BUFFERS)
SELECT COALESCE(error, 'HTTP ' || http_status, 'unknown') AS failure, count(*)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND status = 'failed' AND id >= 'atmpt_01M8MW0N000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000'
GROUP BY failure ORDER BY count(*) DESC, failure LIMIT 5;

\echo '=== 5. stats: the big endpoint, last 7 days (since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT count(*),
       count(*) FILTER (WHERE status = 'succeeded'),
       count(*) FILTER (WHERE status = 'failed'),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
       count(*) FILTER (WHERE http_status BETWEEN 200 AND 299),
       count(*) FILTER (WHERE http_status BETWEEN 300 AND 399),
       count(*) FILTER (WHERE http_status BETWEEN 400 AND 499),
       count(*) FILTER (WHERE http_status BETWEEN 500 AND 599),
       count(*) FILTER (WHERE http_status IS NULL)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND id >= 'atmpt_01M85DMB000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000';
EXPLAIN (ANALYZE, BUFFERS)
SELECT COALESCE(error, 'HTTP ' || http_status, 'unknown') AS failure, count(*)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND status = 'failed' AND id >= 'atmpt_01M85DMB000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000'
GROUP BY failure ORDER BY count(*) DESC, failure LIMIT 5;

\echo '=== 6. stats: the big endpoint, the largest window allowed (31 days: since=2026-10-31T00:00:00Z&until=2026-12-01T00:00:00Z): every one of its ~1 M attempts'
EXPLAIN (ANALYZE, BUFFERS)
SELECT count(*),
       count(*) FILTER (WHERE status = 'succeeded'),
       count(*) FILTER (WHERE status = 'failed'),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
       count(*) FILTER (WHERE http_status BETWEEN 200 AND 299),
       count(*) FILTER (WHERE http_status BETWEEN 300 AND 399),
       count(*) FILTER (WHERE http_status BETWEEN 400 AND 499),
       count(*) FILTER (WHERE http_status BETWEEN 500 AND 599),
       count(*) FILTER (WHERE http_status IS NULL)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND id >= 'atmpt_01M67M33000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000';
EXPLAIN (ANALYZE, BUFFERS)
SELECT COALESCE(error, 'HTTP ' || http_status, 'unknown') AS failure, count(*)
FROM delivery_attempts
WHERE endpoint_id = 'ep_bench_000' AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = 'app_bench_0' AND id = 'ep_bench_000') AND status = 'failed' AND id >= 'atmpt_01M67M33000000000000000000' AND id < 'atmpt_01M8QEDC000000000000000000'
GROUP BY failure ORDER BY count(*) DESC, failure LIMIT 5;

\echo '=== 7. what the service avoids: the generic plans PostgreSQL switches a prepared statement to after five runs (Npgsql auto-prepares), for search 1b, search 2 and stats 5 (plan_cache_mode = force_generic_plan; AttemptQuery.CustomPlans forces custom plans instead)'
SET plan_cache_mode = force_generic_plan;
PREPARE search_application(text, int) AS
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE application_id = $1
ORDER BY id DESC LIMIT $2;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE search_application('app_bench_5', 51);
PREPARE search_endpoint(text, text, text, text, text) AS
SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
FROM delivery_attempts
WHERE endpoint_id = $1 AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = $2 AND id = $1) AND status = $3 AND http_status BETWEEN 500 AND 599 AND id >= $4 AND id < $5
ORDER BY id DESC LIMIT 51;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE search_endpoint('ep_bench_000', 'app_bench_0', 'failed', 'atmpt_01M8MW0N010000000000000000', 'atmpt_01M8QEDC000000000000000000');
PREPARE stats(text, text, text, text) AS
SELECT count(*),
       count(*) FILTER (WHERE status = 'succeeded'),
       count(*) FILTER (WHERE status = 'failed'),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
       count(*) FILTER (WHERE http_status BETWEEN 200 AND 299),
       count(*) FILTER (WHERE http_status BETWEEN 300 AND 399),
       count(*) FILTER (WHERE http_status BETWEEN 400 AND 499),
       count(*) FILTER (WHERE http_status BETWEEN 500 AND 599),
       count(*) FILTER (WHERE http_status IS NULL)
FROM delivery_attempts
WHERE endpoint_id = $1 AND EXISTS (SELECT 1 FROM endpoints WHERE application_id = $2 AND id = $1) AND id >= $3 AND id < $4;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE stats('ep_bench_000', 'app_bench_0', 'atmpt_01M85DMB000000000000000000', 'atmpt_01M8QEDC000000000000000000');
RESET plan_cache_mode;
