-- The outbox: every message a run sent, written in the same transaction as the run's history
-- record of the send. `id` is the send's idempotency key (run:step:attempt); `status` starts
-- at 'sent' (the provider accepted it) and delivery callbacks move it on.
CREATE TABLE messages (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    step        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    to_address  TEXT NOT NULL,
    body        TEXT NOT NULL,
    provider_id TEXT,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX messages_by_run ON messages (tenant_id, run_id, created_at);
CREATE INDEX messages_by_provider_id ON messages (tenant_id, provider_id);
