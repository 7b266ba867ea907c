-- A contact's runs, newest first (GET /v1/runs?contact_id=…), without scanning the tenant's.
CREATE INDEX runs_by_contact_created ON runs (tenant_id, contact_id, created_at, id);
