-- One row per message × subscribed endpoint: the durable state of that delivery. PostgreSQL, not Kafka or Redis, is
-- the source of truth for what is due: a Processor re-enqueues every pending row whose next_attempt_at has passed.
CREATE TABLE deliveries (
    message_id      text        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     text        NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    application_id  text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    -- pending: an attempt is due at next_attempt_at (while a task is queued, that is its lease expiry);
    -- succeeded; failed: the schedule is exhausted (dead-lettered); paused: the endpoint is disabled.
    status          text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (message_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, updated_at);

-- The last success per endpoint, found without scanning its failures (auto-disable after days of failing).
CREATE INDEX delivery_attempts_succeeded ON delivery_attempts (endpoint_id, attempted_at) WHERE status = 'succeeded';
