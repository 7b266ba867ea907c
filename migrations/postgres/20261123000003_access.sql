-- Access control and the admin API: API keys, the audit log, encrypted provider credentials,
-- archived flows, and the indexes the list endpoints page through.

-- An API key is stored as the SHA-256 digest of the key; the key itself is shown once, at
-- creation. Looking a key up by digest is the one read that precedes knowing the tenant.
CREATE TABLE api_keys (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    digest        TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    PRIMARY KEY (tenant_id, id)
);

-- Append-only: the store has no statement that updates or deletes an entry. `id` is a UUIDv7,
-- so id order is time order.
CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    key_prefix  TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Provider credentials, sealed with AES-256-GCM (hex of nonce || ciphertext || tag). `last4`
-- is all the API ever shows of them.
CREATE TABLE tenant_secrets (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    last4       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- An archived flow starts no runs and is left out of lists; its running runs continue.
ALTER TABLE flows ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX runs_by_created ON runs (tenant_id, created_at, id);
CREATE INDEX runs_by_status ON runs (tenant_id, status, created_at, id);
CREATE INDEX messages_by_created ON messages (tenant_id, created_at, id);
