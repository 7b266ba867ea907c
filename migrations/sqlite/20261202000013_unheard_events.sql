-- Event types that arrived while no live flow listened for them, counted per tenant, so the
-- run list can show that `lead.craeted` started nothing (GET /v1/runs `unheard`).
CREATE TABLE unheard_events (
    tenant_id  TEXT NOT NULL,
    event_type TEXT NOT NULL,
    count      BIGINT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_type)
);
CREATE INDEX unheard_events_by_last ON unheard_events (tenant_id, last_at);
