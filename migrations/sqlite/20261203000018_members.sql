-- The people of a business: each with a role and their own API keys (`api_keys.member_id`),
-- so that an action names the person. A member's email is theirs alone within the tenant.
CREATE TABLE members (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX members_by_email ON members (tenant_id, email);

ALTER TABLE api_keys ADD COLUMN member_id TEXT;
CREATE INDEX api_keys_by_member ON api_keys (tenant_id, member_id);
