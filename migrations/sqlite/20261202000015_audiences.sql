-- Contact imports: the uploaded file in chunks (so a worker on any process can read it, and
-- a crash loses nothing), the import's state with its progress (`next_row`: rows of the
-- file committed; each batch of contacts is committed with it), and its row report.
-- `fingerprint` (the file and options hashed) makes re-uploading the same file one import.
CREATE TABLE imports (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       TEXT NOT NULL,
    doc          TEXT NOT NULL,
    next_row     BIGINT NOT NULL,
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX imports_by_fingerprint ON imports (tenant_id, fingerprint);
CREATE INDEX imports_to_run ON imports (status, created_at);

CREATE TABLE import_chunks (
    tenant_id  TEXT NOT NULL,
    import_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq)
);

CREATE TABLE import_report (
    tenant_id  TEXT NOT NULL,
    import_id  TEXT NOT NULL,
    line       BIGINT NOT NULL,
    col        TEXT NOT NULL,
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    result     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, import_id, line, col)
);

-- Saved contact filters, by name.
CREATE TABLE segments (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    doc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
