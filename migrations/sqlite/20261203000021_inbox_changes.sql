-- The inbox's change log, the source of the live stream (`GET /v1/conversations/stream`):
-- each new message and each staff action on a conversation, appended in the commit that
-- makes it, numbered in commit order (`seq`, the stream's event id, which a client resumes
-- from with `Last-Event-ID`). Kept for a week.
CREATE TABLE inbox_changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    kind             TEXT NOT NULL,
    doc              TEXT NOT NULL,
    at               BIGINT NOT NULL
);
CREATE INDEX inbox_changes_by_tenant ON inbox_changes (tenant_id, seq);
CREATE INDEX inbox_changes_by_time ON inbox_changes (at);
