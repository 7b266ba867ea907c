-- A phone number names one contact of a tenant: an inbound SMS or an event that carries only
-- a phone must find exactly one, and two requests that create the same new lead at the same
-- moment must not make two contacts. The unique index lets the first event of a new contact
-- store it with `ON CONFLICT DO NOTHING` instead of looking it up first. Contacts without a
-- phone (NULL) never conflict. A database holding two contacts with one phone stops here,
-- naming the pair; merge or re-number them and start again.
CREATE UNIQUE INDEX contacts_unique_phone ON contacts (tenant_id, phone);
DROP INDEX contacts_by_phone;
