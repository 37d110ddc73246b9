-- The tenant model. Pre-release: the walking skeleton's messages belonged to no application, so they are
-- discarded rather than migrated.
DROP TABLE delivery_attempts;
DROP TABLE messages;

CREATE TABLE applications (
    id                             text        PRIMARY KEY,
    name                           text        NOT NULL,
    -- Deliveries per second across the application's endpoints; null = no application-wide limit.
    rate_limit                     integer,
    -- When set, messages must name an event type registered (and not archived) for the application.
    require_registered_event_types boolean     NOT NULL DEFAULT false,
    created_at                     timestamptz NOT NULL,
    updated_at                     timestamptz NOT NULL
);

-- Only a SHA-256 of each key is kept; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id             text        PRIMARY KEY,
    application_id text        REFERENCES applications (id) ON DELETE CASCADE, -- null: an admin key
    name           text        NOT NULL,
    key_hash       bytea       NOT NULL UNIQUE,
    key_prefix     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);

CREATE TABLE event_types (
    application_id text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name           text        NOT NULL,
    description    text        NOT NULL,
    archived       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (application_id, name)
);

CREATE TABLE endpoints (
    id              text        PRIMARY KEY,
    application_id  text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    url             text        NOT NULL,
    description     text        NOT NULL,
    event_types     text[],     -- null: every event type
    disabled        boolean     NOT NULL DEFAULT false,
    disabled_reason text,
    rate_limit      integer,    -- deliveries per second; null: no endpoint limit
    headers         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX endpoints_by_application ON endpoints (application_id, id);

-- The current secret has no expiry; rotated-out secrets keep signing until expires_at.
CREATE TABLE endpoint_secrets (
    endpoint_id text        NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    PRIMARY KEY (endpoint_id, created_at)
);

CREATE TABLE messages (
    id             text        PRIMARY KEY,
    application_id text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    event_type     text        NOT NULL,
    event_id       text,
    payload        json,       -- null once the retention period has passed
    created_at     timestamptz NOT NULL,
    published_at   timestamptz,
    CONSTRAINT messages_event_id_unique UNIQUE (application_id, event_id)
);
CREATE INDEX messages_by_application ON messages (application_id, id);
CREATE INDEX messages_unpublished ON messages (created_at) WHERE published_at IS NULL;
CREATE INDEX messages_with_payload ON messages (created_at) WHERE payload IS NOT NULL;

CREATE TABLE delivery_attempts (
    id              text        PRIMARY KEY,
    application_id  text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    message_id      text        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     text        NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status          text        NOT NULL, -- succeeded | failed
    http_status     integer,
    latency_ms      integer     NOT NULL,
    response_body   text,
    error           text,
    attempted_at    timestamptz NOT NULL,
    next_attempt_at timestamptz
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id, id);
CREATE INDEX delivery_attempts_by_endpoint ON delivery_attempts (endpoint_id, id);

-- A POST with an idempotency-key header: the first response is kept for 24 h and replayed for repeats.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL, -- the caller: an application id, or 'admin'
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status_code  integer,              -- null while the first request is still running
    location     text,
    response     text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
