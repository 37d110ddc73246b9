-- Messages as accepted by the API. The payload is kept as the client sent it (json keeps text verbatim),
-- so what reaches Kafka and the receiver is exactly what was committed.
CREATE TABLE messages (
    id           text        PRIMARY KEY,
    event_type   text        NOT NULL,
    payload      json        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

-- The relay scans only what is still unpublished.
CREATE INDEX messages_unpublished ON messages (created_at) WHERE published_at IS NULL;

-- One row per HTTP attempt the Processor makes.
CREATE TABLE delivery_attempts (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text        NOT NULL REFERENCES messages (id),
    endpoint_url  text        NOT NULL,
    succeeded     boolean     NOT NULL,
    http_status   integer,
    latency_ms    integer     NOT NULL,
    response_body text,
    error         text,
    attempted_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id, attempted_at);
