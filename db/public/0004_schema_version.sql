-- Each tenant's schema version, kept with the tenant: the newest tenant
-- migration applied to its schema, and a digest of every file applied up
-- to it (versions and checksums), both written in the same transaction as
-- the migration. tenantd refuses a tenant whose version is older than the
-- code needs; tenantctl migrate skips, in one query, every tenant whose
-- digest is the one of the migrations folder.
ALTER TABLE tenants
    ADD COLUMN schema_version integer NOT NULL DEFAULT 0,
    ADD COLUMN schema_digest text;

-- Tenants migrated before: their version now, their digest at the next
-- tenantctl migrate (which checks their files once more).
UPDATE tenants AS t SET schema_version = m.version
FROM (SELECT schema_name, max(version)::integer AS version
      FROM schema_migrations GROUP BY schema_name) AS m
WHERE m.schema_name = t.schema_name;
