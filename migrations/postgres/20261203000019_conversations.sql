-- A conversation per contact and channel, kept by the store in the same commit as what
-- changes it: a run's sent message (`messages`), or an inbound message's event (`events`).
-- `unread` counts inbound messages since staff last read it; `last_message_at` orders the
-- inbox. The thread itself is read from `messages` and `events`.
CREATE TABLE conversations (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL,
    assignee         TEXT,
    snoozed_until    BIGINT,
    unread           BIGINT NOT NULL,
    last_message_at  BIGINT NOT NULL,
    last_direction   TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX conversations_inbox ON conversations (tenant_id, last_message_at, id);
CREATE INDEX conversations_by_contact ON conversations (tenant_id, contact_id);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON conversations TO stepwise_app';
    END IF;
END
$$;

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversations
    USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.system', true) = 'on');
