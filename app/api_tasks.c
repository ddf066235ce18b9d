/* Tasks on a project's board: columns todo, doing, done. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "resource.h"
#include "valid.h"

static const char *const statuses[] = {"todo", "doing", "done", NULL};

/* The fields of a task body; pointers into the parsed JSON. */
typedef struct {
	const char *title, *description, *status, *due_date;
	tn_field assignee_f, due_f, position_f, status_f;
	char assignee[24], position[16];
} task_fields;

static void
read_fields(tn_valid *v, json_object *body, int creating, task_fields *f)
{
	long long n;

	memset(f, 0, sizeof(*f));
	tn_valid_string(v, body, "title", creating, 0, 1, 200, 1, &f->title);
	tn_valid_string(
	    v, body, "description", 0, 0, 0, 10000, 0, &f->description);
	f->status_f = tn_valid_enum(v, body, "status", 0, statuses, &f->status);
	f->due_f = tn_valid_date(v, body, "due_date", 0, 1, &f->due_date);

	f->assignee_f = tn_valid_int(
	    v, body, "assignee_id", 0, 1, 1, 999999999999999999LL, &n);
	snprintf(f->assignee, sizeof(f->assignee), "%lld", n);

	f->position_f = tn_valid_int(v, body, "position", 0, 0, 0, 1000000, &n);
	snprintf(f->position, sizeof(f->position), "%lld", n);
}

static int
task_id(tn_req *req, char id[24])
{
	if (tn_resource_id(req->path_arg, id) != 0) {
		tn_http_problem(req, 404, "not-found", "no such task", NULL);
		return -1;
	}
	return 0;
}

/*
 * Adds an error when the body names an assignee who is not a user of
 * this tenant, so that it is listed with every other invalid field.
 * Returns -1 after answering a database failure.
 */
static int
check_assignee(tn_req *req, tn_valid *v, const task_fields *f)
{
	const char *params[1] = {f->assignee};
	tn_db_status st;
	PGresult *r;
	int known;

	if (f->assignee_f != TN_FIELD_SET) {
		return 0;
	}

	/* the key share lock keeps the user until the task refers to them */
	r = tn_db_exec(req->db,
	    "SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE", 1, params, 0,
	    &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}
	known = PQntuples(r) == 1;
	PQclear(r);

	if (!known) {
		tn_valid_error(
		    v, "assignee_id", "is not a user of this tenant");
	}
	return 0;
}

/*
 * Locks the project, so that positions change one writer at a time.
 * Returns 0, or -1 after answering 404 for a missing project.
 */
static int
lock_project(tn_req *req, const char *project)
{
	const char *params[1] = {project};
	tn_db_status st;
	PGresult *r;
	int found;

	r = tn_db_exec(req->db,
	    "SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", 1, params, 0,
	    &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}
	found = PQntuples(r) == 1;
	PQclear(r);

	if (!found) {
		tn_http_problem(req, 404, "not-found", "no such project", NULL);
		return -1;
	}
	return 0;
}

/* Moves task to a column and position (NULL: the end). */
static int
place(tn_req *req, const char *id, const char *status, const char *position)
{
	const char *params[3] = {id, status, position};
	tn_db_status st;
	PGresult *r;

	r = tn_db_exec(
	    req->db, "SELECT task_place($1, $2, $3::int)", 3, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Reads the task back, commits, and answers it with its ETag. */
static void
answer_task(tn_req *req, int status, const char *id)
{
	const char *params[1] = {id};

	tn_resource_read(req, status,
	    "SELECT task_doc(t), t.id, t.version FROM tasks t WHERE t.id = $1",
	    1, params, 't', "task");
}

/* GET /api/projects/{id}/tasks?status=&assignee=&limit=&cursor= */
void
tn_api_tasks_list(tn_req *req)
{
	char project[24], status[16], assignee[24], limit_text[24];
	char after[3][24] = {"-1", "0", "0"};
	const char *params[7];
	long long cursor[3];
	tn_valid v = {0};
	tn_db_status st;
	PGresult *r;
	long limit;
	int found, has_status, has_assignee, i;

	if (tn_resource_id(req->path_arg, project) != 0) {
		tn_http_problem(req, 404, "not-found", "no such project", NULL);
		return;
	}

	has_status = tn_http_query(req, "status", status, sizeof(status));
	if (has_status != 0 &&
	    (has_status < 0 ||
	        (strcmp(status, "todo") != 0 && strcmp(status, "doing") != 0 &&
	            strcmp(status, "done") != 0))) {
		tn_valid_error(
		    &v, "status", "must be one of todo, doing, done");
	}
	has_assignee =
	    tn_http_query(req, "assignee", assignee, sizeof(assignee));
	if (has_assignee != 0 &&
	    (has_assignee < 0 || tn_resource_id(assignee, assignee) != 0)) {
		tn_valid_error(&v, "assignee", "must be a user id");
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		return;
	}
	if (tn_resource_limit(req, &limit) != 0) {
		return;
	}
	found = tn_resource_cursor(req, 't', cursor, 3);
	if (found < 0) {
		return;
	}
	if (found && (cursor[0] > 2 || cursor[1] > 1000000)) {
		tn_valid_error(&v, "cursor",
		    "is not a cursor of this list (take next_cursor as it is)");
		tn_resource_invalid(req, v.errors);
		return;
	}
	for (i = 0; found && i < 3; i++) {
		snprintf(after[i], sizeof(after[i]), "%lld", cursor[i]);
	}
	snprintf(limit_text, sizeof(limit_text), "%ld", limit + 1);

	params[0] = project;
	params[1] = has_status > 0 ? status : NULL;
	params[2] = has_assignee > 0 ? assignee : NULL;
	params[3] = after[0];
	params[4] = after[1];
	params[5] = after[2];
	params[6] = limit_text;

	r = tn_db_exec(req->db,
	    "SELECT task_doc(t), status_rank(t.status), t.position, t.id"
	    " FROM tasks t WHERE t.project_id = $1"
	    " AND ($2::text IS NULL OR t.status = $2)"
	    " AND ($3::bigint IS NULL OR t.assignee_id = $3::bigint)"
	    " AND (status_rank(t.status), t.position, t.id)"
	    "  > ($4::int, $5::int, $6::bigint)"
	    " AND EXISTS (SELECT 1 FROM projects WHERE id = $1)"
	    " ORDER BY status_rank(t.status), t.position, t.id LIMIT $7",
	    7, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	/* an empty page may mean that the project does not exist */
	if (PQntuples(r) == 0) {
		PGresult *p = tn_db_exec(req->db,
		    "SELECT 1 FROM projects WHERE id = $1", 1, params, 0, &st);

		if (p == NULL) {
			tn_answer_db_failure(req, st);
			PQclear(r);
			return;
		}
		if (PQntuples(p) == 0) {
			tn_http_problem(
			    req, 404, "not-found", "no such project", NULL);
			PQclear(p);
			PQclear(r);
			return;
		}
		PQclear(p);
	}

	if ((st = tn_db_commit(req->db)) != TN_DB_OK) {
		tn_answer_db_failure(req, st);
	} else {
		tn_resource_list(req, "tasks", r, limit, 't', 3);
	}
	PQclear(r);
}

/* POST /api/projects/{id}/tasks */
void
tn_api_tasks_create(tn_req *req)
{
	const char *params[6];
	char project[24], id[24];
	tn_valid v = {0};
	json_object *body;
	task_fields f;
	tn_db_status st;
	PGresult *r;

	if (tn_resource_id(req->path_arg, project) != 0) {
		tn_http_problem(req, 404, "not-found", "no such project", NULL);
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	read_fields(&v, body, 1, &f);
	if (check_assignee(req, &v, &f) != 0) {
		json_object_put(v.errors);
		json_object_put(body);
		return;
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}
	if (lock_project(req, project) != 0) {
		json_object_put(body);
		return;
	}

	params[0] = project;
	params[1] = f.title;
	params[2] = f.description ? f.description : "";
	params[3] = f.status ? f.status : "todo";
	params[4] = f.assignee_f == TN_FIELD_SET ? f.assignee : NULL;
	params[5] = f.due_f == TN_FIELD_SET ? f.due_date : NULL;

	/* at the end of its column first, then where it was asked to go */
	r = tn_db_exec(req->db,
	    "INSERT INTO tasks (project_id, title, description, status,"
	    " assignee_id, due_date, position)"
	    " SELECT $1, $2, $3, $4, $5::bigint, $6::date, count(*)"
	    " FROM tasks WHERE project_id = $1 AND status = $4"
	    " RETURNING id",
	    6, params, 0, &st);
	if (r == NULL) {
		json_object_put(body);
		tn_answer_db_failure(req, st);
		return;
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	if (f.position_f == TN_FIELD_SET &&
	    place(req, id, params[3], f.position) != 0) {
		json_object_put(body);
		return;
	}
	json_object_put(body);
	answer_task(req, 201, id);
}

/* GET /api/tasks/{id} */
void
tn_api_tasks_get(tn_req *req)
{
	char id[24];

	if (task_id(req, id) != 0) {
		return;
	}
	answer_task(req, 200, id);
}

/*
 * Finds the task's project and current column, with If-Match checked.
 * Returns 0, or -1 after answering 404 or 412.
 */
static int
load_task(tn_req *req, const char *id, const char *version, char project[24],
    char status[8])
{
	const char *params[2] = {id, version};
	tn_db_status st;
	PGresult *r;
	int found, current;

	r = tn_db_exec(req->db,
	    "SELECT t.project_id, t.status,"
	    " $2::int IS NULL OR t.version = $2::int"
	    " FROM tasks t WHERE t.id = $1",
	    2, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}
	found = PQntuples(r) == 1;
	current = found && PQgetvalue(r, 0, 2)[0] == 't';
	if (found) {
		snprintf(project, 24, "%s", PQgetvalue(r, 0, 0));
		snprintf(status, 8, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);

	if (!found) {
		tn_http_problem(req, 404, "not-found", "no such task", NULL);
		return -1;
	}
	if (!current) {
		tn_http_problem(req, 412, "precondition-failed",
		    "the task changed since it was read (If-Match); read it again",
		    NULL);
		return -1;
	}
	return 0;
}

/* PATCH /api/tasks/{id} */
void
tn_api_tasks_update(tn_req *req)
{
	char id[24], version[16], project[24], status[8];
	const char *params[7], *want;
	tn_valid v = {0};
	json_object *body;
	task_fields f;
	tn_db_status st;
	PGresult *r;
	int match;

	if (task_id(req, id) != 0) {
		return;
	}
	match = tn_resource_if_match(req, 't', id, version);
	if (match < 0) {
		tn_http_problem(req, 412, "precondition-failed",
		    "If-Match does not name a version of this task", NULL);
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	read_fields(&v, body, 0, &f);
	if (check_assignee(req, &v, &f) != 0) {
		json_object_put(v.errors);
		json_object_put(body);
		return;
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	/* the project first: it orders writers; then the task's version */
	params[0] = id;
	r = tn_db_exec(req->db,
	    "SELECT p.id FROM projects p JOIN tasks t ON t.project_id = p.id"
	    " WHERE t.id = $1 FOR UPDATE OF p",
	    1, params, 0, &st);
	PQclear(r);
	if (r == NULL) {
		json_object_put(body);
		tn_answer_db_failure(req, st);
		return;
	}
	if (load_task(req, id, match ? version : NULL, project, status) != 0 ||
	    lock_project(req, project) != 0) {
		json_object_put(body);
		return;
	}

	params[1] = f.title;
	params[2] = f.description;
	params[3] = f.assignee_f == TN_FIELD_ABSENT ? "f" : "t";
	params[4] = f.assignee_f == TN_FIELD_SET ? f.assignee : NULL;
	params[5] = f.due_f == TN_FIELD_ABSENT ? "f" : "t";
	params[6] = f.due_f == TN_FIELD_SET ? f.due_date : NULL;
	r = tn_db_exec(req->db,
	    "UPDATE tasks SET title = coalesce($2, title),"
	    " description = coalesce($3, description),"
	    " assignee_id = CASE WHEN $4::boolean THEN $5::bigint"
	    "  ELSE assignee_id END,"
	    " due_date = CASE WHEN $6::boolean THEN $7::date"
	    "  ELSE due_date END,"
	    " version = version + 1, updated_at = now()"
	    " WHERE id = $1",
	    7, params, 0, &st);
	PQclear(r);
	if (r == NULL) {
		json_object_put(body);
		tn_answer_db_failure(req, st);
		return;
	}

	/* a new column without a position means its end */
	if (f.status_f == TN_FIELD_SET || f.position_f == TN_FIELD_SET) {
		want = f.position_f == TN_FIELD_SET ? f.position : NULL;
		if (f.status_f == TN_FIELD_SET &&
		    strcmp(f.status, status) == 0 && want == NULL) {
			want = "";
		}
		if (want == NULL || *want != '\0') {
			if (place(req, id, f.status ? f.status : status,
			        want) != 0) {
				json_object_put(body);
				return;
			}
		}
	}
	json_object_put(body);
	answer_task(req, 200, id);
}

/* DELETE /api/tasks/{id}: the column closes up behind it. */
void
tn_api_tasks_delete(tn_req *req)
{
	const char *params[1];
	tn_db_status st;
	PGresult *r;
	char id[24];

	if (task_id(req, id) != 0) {
		return;
	}
	params[0] = id;

	/* the project first, as every change of its positions does */
	r = tn_db_exec(req->db,
	    "SELECT p.id FROM projects p JOIN tasks t ON t.project_id = p.id"
	    " WHERE t.id = $1 FOR UPDATE OF p",
	    1, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	PQclear(r);
	tn_resource_delete(
	    req, "DELETE FROM tasks WHERE id = $1", 1, params, "task");
}
