-- The suppression list: the phone numbers (E.164) and email addresses (lower case) a tenant
-- must not message, by channel ('sms', 'email'). It outlives contacts: an opt-out stays when
-- its contact is deleted and created again, or when its number moves to another contact.
-- Storing a contact with an opt-out adds its address here; a contact whose address is here
-- reads as opted out. The application may add rows, never change or remove them.
CREATE TABLE suppressions (
    tenant_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    contact_id  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel, address)
);
CREATE INDEX suppressions_newest ON suppressions (tenant_id, created_at);

-- The opt-outs contacts hold already.
INSERT INTO suppressions (tenant_id, channel, address, reason, contact_id, created_at)
SELECT tenant_id, 'sms', phone, 'opt_out', id, updated_at FROM contacts
WHERE phone IS NOT NULL AND json_extract(doc, '$.sms_opt_out') = 1
ON CONFLICT DO NOTHING;
INSERT INTO suppressions (tenant_id, channel, address, reason, contact_id, created_at)
SELECT tenant_id, 'email', email, 'opt_out', id, updated_at FROM contacts
WHERE email IS NOT NULL AND json_extract(doc, '$.email_opt_out') = 1
ON CONFLICT DO NOTHING;
