-- A task that moves because another moved past it has changed too: its
-- version goes up, so a PATCH with its old ETag is refused.

CREATE OR REPLACE FUNCTION task_place(task bigint, new_status text,
    want integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t tasks;
	size integer;
BEGIN
	SELECT * INTO STRICT t FROM tasks WHERE id = task;

	UPDATE tasks SET position = position - 1, version = version + 1
	WHERE project_id = t.project_id AND status = t.status
	  AND position > t.position;

	SELECT count(*) INTO size FROM tasks
	WHERE project_id = t.project_id AND status = new_status
	  AND id <> task;
	IF want IS NULL OR want > size THEN
		want := size;
	END IF;

	UPDATE tasks SET position = position + 1, version = version + 1
	WHERE project_id = t.project_id AND status = new_status
	  AND position >= want AND id <> task;

	UPDATE tasks SET status = new_status, position = want,
	    version = version + 1
	WHERE id = task;
END
$$;

CREATE OR REPLACE FUNCTION task_close_gap() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE tasks SET position = position - 1, version = version + 1
	WHERE project_id = OLD.project_id AND status = OLD.status
	  AND position > OLD.position;
	RETURN OLD;
END
$$;
