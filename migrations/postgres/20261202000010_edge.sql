-- The messaging edge. Each tenant's webhook token (`/hooks/{hook_token}/{source}`) is kept in
-- its settings document and here, unique, to find the tenant a webhook is for.
ALTER TABLE tenants ADD COLUMN hook_token TEXT;
CREATE UNIQUE INDEX tenants_by_hook_token ON tenants (hook_token);

-- Delivery reports by the provider's message id: the furthest status reached (rank 0 queued,
-- 1 sent, 2 final) and the provider's error code. Kept apart from `messages` because a report
-- may arrive before the run that sent the message has committed it.
CREATE TABLE deliveries (
    tenant_id   TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    rank        INTEGER NOT NULL,
    error_code  TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, provider_id)
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE ON deliveries TO stepwise_app';
        -- A START from the person lifts their own opt-out; nothing else removes a row.
        EXECUTE 'GRANT DELETE ON suppressions TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deliveries
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
