-- The tenant application: sign-in tokens, projects and tasks, and the
-- functions that turn rows into the API's JSON documents.

ALTER TABLE users ADD COLUMN version integer NOT NULL DEFAULT 1;

-- Session cookies and personal API tokens; only a hash of each is kept.
CREATE TABLE auth_tokens (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('session', 'api')),
	name text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
	token_hash text NOT NULL UNIQUE, -- sha256 of the token, hex
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz,
	last_used_at timestamptz
);

CREATE INDEX auth_tokens_user_idx ON auth_tokens (user_id, kind);

CREATE TABLE projects (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description text NOT NULL DEFAULT ''
	    CHECK (length(description) <= 10000),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
	description text NOT NULL DEFAULT ''
	    CHECK (length(description) <= 10000),
	status text NOT NULL DEFAULT 'todo'
	    CHECK (status IN ('todo', 'doing', 'done')),
	assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
	due_date date,
	position integer NOT NULL CHECK (position >= 0),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tasks_board_idx ON tasks (project_id, status, position, id);
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id);

CREATE FUNCTION api_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The order of the board's columns.
CREATE FUNCTION status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE s WHEN 'todo' THEN 0 WHEN 'doing' THEN 1 ELSE 2 END
$$;

CREATE FUNCTION user_doc(u users) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', u.id, 'email', u.email,
	    'name', u.display_name, 'role', u.role, 'disabled', u.disabled,
	    'created_at', api_time(u.created_at),
	    'updated_at', api_time(u.updated_at))
$$;

CREATE FUNCTION project_doc(p projects) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', p.id, 'name', p.name,
	    'description', p.description,
	    'created_at', api_time(p.created_at),
	    'updated_at', api_time(p.updated_at))
$$;

CREATE FUNCTION task_doc(t tasks) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', t.id, 'project_id', t.project_id,
	    'title', t.title, 'description', t.description,
	    'status', t.status, 'assignee_id', t.assignee_id,
	    'due_date', to_char(t.due_date, 'YYYY-MM-DD'),
	    'position', t.position,
	    'created_at', api_time(t.created_at),
	    'updated_at', api_time(t.updated_at))
$$;

-- Puts a task at position want of column status (clamped to the column),
-- closing the gap it leaves and making room where it goes, so positions
-- stay 0..n-1 in every column. The caller holds the project's row lock.
CREATE FUNCTION task_place(task bigint, new_status text, want integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t tasks;
	size integer;
BEGIN
	SELECT * INTO STRICT t FROM tasks WHERE id = task;

	UPDATE tasks SET position = position - 1
	WHERE project_id = t.project_id AND status = t.status
	  AND position > t.position;

	SELECT count(*) INTO size FROM tasks
	WHERE project_id = t.project_id AND status = new_status
	  AND id <> task;
	IF want IS NULL OR want > size THEN
		want := size;
	END IF;

	UPDATE tasks SET position = position + 1
	WHERE project_id = t.project_id AND status = new_status
	  AND position >= want AND id <> task;

	UPDATE tasks SET status = new_status, position = want WHERE id = task;
END
$$;

-- Closes the gap a deleted task leaves in its column.
CREATE FUNCTION task_close_gap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE tasks SET position = position - 1
	WHERE project_id = OLD.project_id AND status = OLD.status
	  AND position > OLD.position;
	RETURN OLD;
END
$$;

CREATE TRIGGER tasks_close_gap AFTER DELETE ON tasks
FOR EACH ROW WHEN (pg_trigger_depth() = 0)
EXECUTE FUNCTION task_close_gap();
