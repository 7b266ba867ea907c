-- Modules and packs. A flow version installed from a module remembers where it came from
-- (module, version, pack, the tenant's overrides and the copy the module gave: JSON), so
-- that a change or an upgrade merges instead of overwriting. NULL for flows written by hand.
ALTER TABLE flow_versions ADD COLUMN origin TEXT;
