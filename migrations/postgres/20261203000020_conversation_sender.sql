-- The business's number a contact last wrote to, kept on their conversation so that a reply
-- by hand goes from it (the contact sees one thread). A conversation's `status` may now be
-- `needs_human` too (human takeover); the column is text, so that needs no change.
ALTER TABLE conversations ADD COLUMN sender TEXT;
