-- The W3C traceparent of the request that created the message, so work done later from PostgreSQL rather than from a
-- Kafka record (the outbox relay, retries) continues the message's trace. NULL when the request had none.
ALTER TABLE messages ADD COLUMN trace_parent text;
