-- Onboarding that can be resumed, and the record of admin actions.

-- The first user of a tenant being onboarded, its password already hashed,
-- kept until the tenant is active so that a retry can still store it.
CREATE TABLE onboarding_owners (
	tenant_id bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
	email text NOT NULL,
	display_name text NOT NULL DEFAULT '',
	password_hash text NOT NULL
);

-- Every admin request that changes something: who (a fingerprint of the
-- token, never the token), what, when, and how it ended.
CREATE TABLE admin_audit (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	token text NOT NULL,
	method text NOT NULL,
	path text NOT NULL,
	status integer NOT NULL,
	request_id text NOT NULL
);
