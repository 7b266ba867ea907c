-- The pool number each campaign contact was started from, and when: the dispatcher reads a
-- number's latest delivery reports in the campaign to take out a number that keeps failing.
ALTER TABLE campaign_runs ADD COLUMN sender TEXT;
ALTER TABLE campaign_runs ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX campaign_runs_by_sender ON campaign_runs (tenant_id, campaign_id, sender, started_at);
