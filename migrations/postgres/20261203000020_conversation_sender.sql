-- The business's number a contact last wrote to, kept on their conversation so that a reply
-- by hand goes from it (the contact sees one thread). A conversation's `status` may now be
-- `needs_human` too (human takeover); the column is text, so that needs no change.
ALTER TABLE conversations ADD COLUMN sender TEXT;

-- The conversations waiting for a person are few: the inbox lists them from their own small
-- index (a partial one, so a message to any other conversation does not touch it).
CREATE INDEX conversations_needing_human ON conversations (tenant_id, last_message_at, id)
    WHERE status = 'needs_human';
