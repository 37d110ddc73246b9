-- A foreign key is checked per inserted row by a query that locks the referenced row (FOR KEY SHARE). Every delivery
-- and every attempt checked its application, so all of a busy application's writers locked the one applications row;
-- and each attempt checked its message and endpoint as well: seven checks per message in all. An attempt now refers to
-- its delivery (which refers to its message and endpoint, which refer to their application), and a delivery no longer
-- refers to its application directly: deleting an application, endpoint or message still removes its deliveries and
-- their attempts, by cascade, in one more step.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_application_id_fkey;

ALTER TABLE delivery_attempts
    DROP CONSTRAINT delivery_attempts_application_id_fkey,
    DROP CONSTRAINT delivery_attempts_message_id_fkey,
    DROP CONSTRAINT delivery_attempts_endpoint_id_fkey;

-- Attempts recorded before deliveries existed (0003) have no delivery: give them one, settled as their attempts ended,
-- so nothing is resent and every attempt keeps its place.
INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
SELECT a.message_id, a.endpoint_id, a.application_id,
       CASE WHEN bool_or(a.status = 'succeeded') THEN 'succeeded' ELSE 'failed' END,
       count(*), NULL, min(a.attempted_at), max(a.attempted_at)
FROM delivery_attempts a
WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = a.message_id AND d.endpoint_id = a.endpoint_id)
GROUP BY a.message_id, a.endpoint_id, a.application_id;

ALTER TABLE delivery_attempts
    ADD CONSTRAINT delivery_attempts_delivery_fkey FOREIGN KEY (message_id, endpoint_id)
        REFERENCES deliveries (message_id, endpoint_id) ON DELETE CASCADE;
