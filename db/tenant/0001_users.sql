-- Every tenant's users. Runs inside the tenant schema as the tenant role.

CREATE TABLE users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email text NOT NULL
	    CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
	display_name text NOT NULL DEFAULT ''
	    CHECK (length(display_name) <= 200),
	password_hash text NOT NULL,
	role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
	disabled boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
