-- The outbox: messages committed but not yet acknowledged by Kafka, one narrow row each, inserted with the message and
-- deleted once Kafka has it. Before, a published_at column of messages said so; marking a message published then wrote
-- a new version of the whole message row and an entry in each of its five indexes (the column was in a partial index,
-- so the update could not be HOT). The relay reads this table by age; the sweep and retention read "published" as
-- "no longer here".
CREATE TABLE message_outbox (
    message_id text        PRIMARY KEY,
    created_at timestamptz NOT NULL
);
CREATE INDEX message_outbox_by_age ON message_outbox (created_at);

INSERT INTO message_outbox (message_id, created_at)
SELECT id, created_at FROM messages WHERE published_at IS NULL;

-- Dropped, not left unused: a replica from before this migration must fail to mark or relay (loudly, in its logs)
-- rather than republish every message it would find "unpublished".
DROP INDEX messages_unpublished;
ALTER TABLE messages DROP COLUMN published_at;
