-- Event type schemas: a JSON Schema (draft 2020-12) and example payloads per event type, kept as sent (json keeps the
-- text verbatim). NULL: no schema (messages of the type are never validated); examples: a JSON array, or NULL.
ALTER TABLE event_types
    ADD COLUMN schema   json,
    ADD COLUMN examples json;

-- When set, create-message validates a payload against its event type's schema (types without one are not checked).
ALTER TABLE applications ADD COLUMN validate_payloads boolean NOT NULL DEFAULT false;

-- payload_expires_at: a message's own retention (create-message's "retention"), shorter than the global one; NULL: the
-- global Herald:Messages:PayloadRetention applies. expunged_at: the payload was erased on request (DELETE …/content);
-- its deliveries were ended and its attempts' response bodies cleared with it.
ALTER TABLE messages
    ADD COLUMN payload_expires_at timestamptz,
    ADD COLUMN expunged_at        timestamptz;
-- Retention finds the messages whose own period ran out without scanning every kept payload.
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL AND payload_expires_at IS NOT NULL;
