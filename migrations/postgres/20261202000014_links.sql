-- Tracked links ({{track "https://…"}}): one per run and URL, served at /l/{code}, which
-- counts the click, records a link.clicked event for the contact and redirects to `url`. The
-- code is unguessable and unique across tenants (it is all a click carries).
CREATE TABLE links (
    code        TEXT NOT NULL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    flow_id     TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    clicks      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    clicked_at  BIGINT
);
CREATE INDEX links_by_run ON links (tenant_id, run_id);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON links TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE links ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON links
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
