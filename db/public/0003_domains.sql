-- At most one primary host name per tenant.
CREATE UNIQUE INDEX tenant_domains_primary_key ON tenant_domains (tenant_id)
WHERE is_primary;
