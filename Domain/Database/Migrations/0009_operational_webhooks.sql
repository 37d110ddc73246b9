-- Operational webhooks: events about Herald itself (an endpoint disabled, a delivery dead-lettered, ...) sent to the
-- operator's operational endpoints. They are the messages of one reserved application whose endpoints are those
-- operational endpoints, so they travel Herald's own pipeline like any message: outbox, Kafka, fan-out, retries,
-- signing, the SSRF guard. Only the admin API under /api/v1/operational-webhooks reaches this application; the
-- applications API neither lists nor serves it.
INSERT INTO applications (id, name, rate_limit, require_registered_event_types, created_at, updated_at)
VALUES ('app_operations', 'Operational webhooks', NULL, true, now(), now())
ON CONFLICT (id) DO NOTHING;

-- Registered (and required) so an operational endpoint's eventTypes filter is checked like any application's: a type
-- Herald never emits is refused with a 400. The list is Herald.Operations.OperationalEventTypes.All.
INSERT INTO event_types (application_id, name, description, archived, created_at, updated_at)
VALUES
    ('app_operations', 'endpoint.created',          'An endpoint was created through the API.', false, now(), now()),
    ('app_operations', 'endpoint.updated',          'An endpoint was changed through the API.', false, now(), now()),
    ('app_operations', 'endpoint.deleted',          'An endpoint was deleted through the API.', false, now(), now()),
    ('app_operations', 'endpoint.disabled',         'An endpoint was disabled: by the delivery engine (410 Gone, or failing too long) or through the API.', false, now(), now()),
    ('app_operations', 'endpoint.enabled',          'A disabled endpoint was enabled again through the API.', false, now(), now()),
    ('app_operations', 'message.attempt.exhausted', 'A delivery used its last attempt and was dead-lettered.', false, now(), now()),
    ('app_operations', 'message.attempt.failing',   'An endpoint failed an attempt after succeeding (debounced per endpoint).', false, now(), now())
ON CONFLICT DO NOTHING;
