-- Portal access: links a tenant's backend hands its customer, each scoped to one application. Only a SHA-256 of the
-- token is kept, like API keys. Revoking one ends the sessions it started.
CREATE TABLE portal_access (
    id             text        PRIMARY KEY,
    application_id text        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    token_hash     bytea       NOT NULL UNIQUE,
    read_only      boolean     NOT NULL,
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX portal_access_by_application ON portal_access (application_id, id);

-- ASP.NET Core Data Protection's key ring (portal sessions, form tokens), shared by every API replica. Each element
-- is sealed with Herald's sealing keys before it is stored.
CREATE TABLE data_protection_keys (
    name       text        PRIMARY KEY,
    xml        text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A message for one endpoint only (a test event): it is created with its one delivery and never fanned out. It goes
-- with its endpoint.
ALTER TABLE messages ADD COLUMN endpoint_id text REFERENCES endpoints (id) ON DELETE CASCADE;
CREATE INDEX messages_by_endpoint ON messages (endpoint_id) WHERE endpoint_id IS NOT NULL;
