-- Module KPIs (GET /v1/metrics): a flow's runs by start time, and a contact's events by type
-- and time (did a booking or a reply follow the run?), and a tenant's events by type.
CREATE INDEX runs_by_flow_created ON runs (tenant_id, flow_id, created_at);
CREATE INDEX events_by_contact_type ON events (tenant_id, contact_id, event_type, received_at);
CREATE INDEX events_by_type ON events (tenant_id, event_type, received_at);
