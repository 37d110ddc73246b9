-- The attempt a Processor is about to send is claimed first (claimed_attempt = the task's attempt number, at
-- claimed_at), so no second Processor sends the same attempt meanwhile: a partition's new owner re-reading records,
-- a consumer that froze and woke up, a task enqueued twice. A claim older than the claim timeout is stale (its
-- Processor died) and may be taken over. Recording the attempt (attempts = claimed_attempt) releases it.
ALTER TABLE deliveries
    ADD COLUMN claimed_attempt integer NOT NULL DEFAULT 0,
    ADD COLUMN claimed_at      timestamptz;
-- Claims touch no indexed column: room on each page lets them be HOT updates.
ALTER TABLE deliveries SET (fillfactor = 85);

-- A request holding an idempotency key holds it under a lease it renews while it runs; a claim whose lease ran out
-- (its API replica died mid-request) is taken over by the next request with the key. NULL: no lease (before 0005).
ALTER TABLE idempotency_keys
    ADD COLUMN owner        text,
    ADD COLUMN locked_until timestamptz;

-- The idempotency key (caller scope and key) a message was created with: one key never creates two messages, whatever
-- happened to its idempotency_keys row (a client that left, a replica that died between commit and response).
ALTER TABLE messages ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX messages_idempotency_key ON messages (application_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- How far a Processor's sweep has looked (e.g. for messages published but never fanned out), shared by the replicas.
CREATE TABLE processor_cursors (
    name       text        PRIMARY KEY,
    position   text        NOT NULL,
    updated_at timestamptz NOT NULL
);
