-- Stepwise schema (PostgreSQL). Every row carries tenant_id; every query filters by it.
-- Times are unix microseconds (BIGINT); documents are JSON text.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    doc         TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE contacts (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    phone       TEXT,
    email       TEXT,
    doc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX contacts_by_phone ON contacts (tenant_id, phone);
CREATE INDEX contacts_by_email ON contacts (tenant_id, email);

CREATE TABLE events (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    contact_id   TEXT,
    doc          TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    -- Set once the event's runs were started, resumed and cancelled. An unprocessed event
    -- (a crash in between) is processed again when it is sent again or swept up.
    processed    BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, source, external_id)
);
CREATE INDEX events_unprocessed ON events (received_at) WHERE NOT processed;

CREATE TABLE flows (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    latest_version  INTEGER NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Immutable: a version is never updated; runs finish on the version they started on.
CREATE TABLE flow_versions (
    tenant_id   TEXT NOT NULL,
    flow_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    source      TEXT NOT NULL,
    config      TEXT NOT NULL,
    templates   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, version)
);

CREATE TABLE runs (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    flow_id        TEXT NOT NULL,
    flow_version   INTEGER NOT NULL,
    contact_id     TEXT NOT NULL,
    status         TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    wake_at        BIGINT,
    -- The seq for which a timer task was queued: timers are queued shortly before they are
    -- due, so the queue holds only what is due now and waiting runs live in this table.
    queued_seq     BIGINT,
    waiting_event  TEXT,
    format         INTEGER NOT NULL,
    state          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX runs_by_contact ON runs (tenant_id, contact_id, status);
CREATE INDEX runs_by_wake ON runs (wake_at) WHERE wake_at IS NOT NULL;

-- Append-only history of each run.
CREATE TABLE run_steps (
    tenant_id  TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    idx        INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    step       TEXT,
    attempt    INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq, idx)
);

-- Schedule triggers: the next fire time of each scheduled flow, kept so that downtime loses no
-- tick. A tick is taken by moving next_fire_at on, guarded by its old value.
CREATE TABLE schedules (
    tenant_id     TEXT NOT NULL,
    flow_id       TEXT NOT NULL,
    version       INTEGER NOT NULL,
    next_fire_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, flow_id)
);
CREATE INDEX schedules_due ON schedules (next_fire_at);
CREATE INDEX runs_by_flow_contact ON runs (tenant_id, flow_id, contact_id, created_at);
