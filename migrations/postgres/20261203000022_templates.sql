-- The template library: each edit of a template is a new version, a draft until an admin
-- approves it; what uses a template by name gets its newest approved version, or the
-- version it pins. Kind, channel and tags are the newest version's.
CREATE TABLE template_versions (
    tenant_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    subject      TEXT,
    body         TEXT NOT NULL,
    tags         TEXT NOT NULL,
    status       TEXT NOT NULL,
    author       TEXT NOT NULL,
    approved_by  TEXT,
    created_at   BIGINT NOT NULL,
    approved_at  BIGINT,
    PRIMARY KEY (tenant_id, name, version)
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON template_versions TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE template_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_versions
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
