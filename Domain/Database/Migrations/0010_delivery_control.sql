-- Per-endpoint FIFO. A FIFO endpoint's deliveries wait in line as 'queued', ordered by queue_position (a global
-- sequence: a message committed before another was created always gets the lower position). Only the head of the line
-- is ever pending (being attempted or retried) or paused; it leaves the line by succeeding or being dead-lettered, and
-- the Processor then makes the next one the head. The unique index below is that rule, enforced.
ALTER TABLE endpoints ADD COLUMN ordering text NOT NULL DEFAULT 'parallel' CHECK (ordering IN ('parallel', 'fifo'));
CREATE INDEX endpoints_fifo ON endpoints (application_id) WHERE ordering = 'fifo';

CREATE SEQUENCE delivery_queue_positions;
ALTER TABLE deliveries ADD COLUMN queue_position bigint; -- null: not in a FIFO line
CREATE INDEX deliveries_queued ON deliveries (endpoint_id, queue_position) WHERE status = 'queued';
CREATE UNIQUE INDEX deliveries_fifo_head ON deliveries (endpoint_id)
    WHERE queue_position IS NOT NULL AND status IN ('pending', 'paused');

-- Retry policies: {"delays": ["5s", ...], "maxAttempts": n, "timeout": "10s"}, each field optional. An endpoint's
-- fields override its application's, whose fields override the Processor's configuration. Null: inherit everything.
ALTER TABLE applications ADD COLUMN retry_policy jsonb;
ALTER TABLE endpoints ADD COLUMN retry_policy jsonb;

-- Routing. A message may name channels and tags. An endpoint with channels receives only messages sharing one of them;
-- an endpoint with a content filter receives only messages whose payload matches it. The filter is kept as the user
-- wrote it (filter) and as the SQL/JSON path Herald compiled from it (filter_path), which fan-out evaluates.
ALTER TABLE messages ADD COLUMN channels text[], ADD COLUMN tags text[];
CREATE INDEX messages_by_channel ON messages USING gin (channels) WHERE channels IS NOT NULL;
CREATE INDEX messages_by_tag ON messages USING gin (tags) WHERE tags IS NOT NULL;
ALTER TABLE endpoints ADD COLUMN channels text[], ADD COLUMN filter jsonb, ADD COLUMN filter_path jsonpath;

-- Whether a payload matches a compiled filter. A payload PostgreSQL cannot read as jsonb (a \u0000 in a string) matches
-- no filter rather than failing the fan-out of every message beside it.
CREATE FUNCTION herald_payload_matches(payload json, filter jsonpath) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN coalesce(jsonb_path_match(payload::jsonb, filter, '{}', true), false);
EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
    RETURN false;
END
$$;
