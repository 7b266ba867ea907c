-- The inbox's change log, the source of the live stream (`GET /v1/conversations/stream`):
-- each new message and each staff action on a conversation, appended in the commit that
-- makes it, numbered (`seq`, the stream's event id, which a client resumes from with
-- `Last-Event-ID`). Numbers are taken before commit, so the stream waits briefly at a gap
-- for a commit still under way. Kept for a week.
CREATE TABLE inbox_changes (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    kind             TEXT NOT NULL,
    doc              TEXT NOT NULL,
    at               BIGINT NOT NULL
);
CREATE INDEX inbox_changes_by_tenant ON inbox_changes (tenant_id, seq);
CREATE INDEX inbox_changes_by_time ON inbox_changes (at);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON inbox_changes TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE inbox_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbox_changes
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
