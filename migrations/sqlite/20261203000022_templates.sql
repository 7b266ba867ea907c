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
