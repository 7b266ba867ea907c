-- Usage and quotas: each sent message keeps its SMS segments (a plan counts segments, as
-- carriers bill them), read by month through a covering index; and the notices sent when a
-- tenant's usage crosses 80 % and 100 % of its plan, one per period, metric and level, so
-- that every worker agrees on who sends it.
ALTER TABLE messages ADD COLUMN segments INTEGER NOT NULL DEFAULT 1;
CREATE INDEX messages_usage ON messages (tenant_id, created_at, channel, segments);

CREATE TABLE usage_notices (
    tenant_id  TEXT NOT NULL,
    period     TEXT NOT NULL,
    metric     TEXT NOT NULL,
    level      INTEGER NOT NULL,
    used       BIGINT NOT NULL,
    quota      BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, period, metric, level)
);
