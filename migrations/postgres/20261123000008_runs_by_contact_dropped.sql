-- runs_by_contact (tenant_id, contact_id, status) duplicated runs_by_contact_created, which
-- serves a contact's active runs as well (a contact has few runs; their status is checked on
-- the row). A transition that changes a run's status or wake-up time updates every index of
-- runs: one fewer to write.
DROP INDEX runs_by_contact;
