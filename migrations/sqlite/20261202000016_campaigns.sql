-- Campaigns: `status` and `next_at` are what dispatchers claim by (one at a time, by
-- `claim` until `lease_until`); `progress` is the dispatcher's cursor and pacing window;
-- `doc` the campaign as answered. `campaign_runs` names the run each contact was started
-- with (the counters join it to the outbox); `sender_assignments` keeps each contact on the
-- pool number it first heard from; `number_slots` paces each pool number across campaigns and
-- worker processes (the earliest time it may start its next contact).
CREATE TABLE campaigns (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    status       TEXT NOT NULL,
    doc          TEXT NOT NULL,
    progress     TEXT NOT NULL,
    next_at      BIGINT NOT NULL,
    lease_until  BIGINT,
    claim        TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX campaigns_due ON campaigns (status, next_at);

CREATE TABLE campaign_runs (
    tenant_id    TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, contact_id)
);

CREATE TABLE number_slots (
    tenant_id  TEXT NOT NULL,
    number     TEXT NOT NULL,
    next_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, number)
);

CREATE TABLE sender_assignments (
    tenant_id   TEXT NOT NULL,
    pool        TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    number      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, pool, contact_id)
);
