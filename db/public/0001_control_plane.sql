-- The control plane: tenants, their host names and onboarding steps.
-- Tenant roles get no rights here: the public schema is closed to PUBLIC.

REVOKE ALL ON SCHEMA public FROM PUBLIC;

DO $$
BEGIN
	EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
	    current_database());
END
$$;

CREATE TABLE tenants (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subdomain text NOT NULL UNIQUE
	    CHECK (subdomain ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	status text NOT NULL DEFAULT 'provisioning'
	    CHECK (status IN ('provisioning', 'active', 'suspended',
	        'deleted')),
	schema_name text NOT NULL UNIQUE,
	role_name text NOT NULL UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Further host names of a tenant, stored lower-case without a port.
CREATE TABLE tenant_domains (
	host text PRIMARY KEY CHECK (host = lower(host) AND host !~ ':'),
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	is_primary boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tenant_domains_tenant_idx ON tenant_domains (tenant_id);

-- One row per tenant and onboarding step: what happened last.
CREATE TABLE onboarding_steps (
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	step text NOT NULL,
	status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	attempts integer NOT NULL DEFAULT 1,
	last_error text,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, step)
);
