-- Language-model tokens, metered for plans: a row per model call a run made, written with the
-- run's history in one transaction (its id is the call's `run:step:attempt`, so a call is
-- counted once), read by month through its index. Tokens are not personal data: erasing a
-- contact leaves its runs' counts.
CREATE TABLE ai_usage (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    tokens     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ai_usage_by_time ON ai_usage (tenant_id, created_at, tokens);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ai_usage TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE ai_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_usage
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
