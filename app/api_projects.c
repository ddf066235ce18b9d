/* Projects: list, create, read, change, delete (with their tasks). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "resource.h"
#include "valid.h"

#define NAME_MAX_CHARS        200
#define DESCRIPTION_MAX_CHARS 10000

static int
project_id(tn_req *req, char id[24])
{
	if (tn_resource_id(req->path_arg, id) != 0) {
		tn_http_problem(req, 404, "not-found", "no such project", NULL);
		return -1;
	}
	return 0;
}

/* GET /api/projects */
void
tn_api_projects_list(tn_req *req)
{
	const char *params[2];
	tn_db_status st;
	tn_page page;
	PGresult *r;

	if (tn_resource_page(req, 'p', "0", &page) != 0) {
		return;
	}
	params[0] = page.from;
	params[1] = page.fetch;

	r = tn_db_exec(req->db,
	    "SELECT project_doc(p), p.id FROM projects p WHERE p.id > $1"
	    " ORDER BY p.id LIMIT $2",
	    2, params, 1, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	tn_resource_list(req, "projects", r, page.limit, 'p', 1);
	PQclear(r);
}

/* POST /api/projects */
void
tn_api_projects_create(tn_req *req)
{
	const char *name, *description, *params[2];
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	PGresult *r;

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "name", 1, 0, 1, NAME_MAX_CHARS, 1, &name);
	tn_valid_string(&v, body, "description", 0, 0, 0, DESCRIPTION_MAX_CHARS,
	    0, &description);
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	params[0] = name;
	params[1] = description ? description : "";
	r = tn_db_exec(req->db,
	    "INSERT INTO projects (name, description) VALUES ($1, $2)"
	    " RETURNING project_doc(projects), id, version",
	    2, params, 1, &st);
	json_object_put(body);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	tn_resource_answer(req, 201, r, 'p');
	PQclear(r);
}

/* GET /api/projects/{id} */
void
tn_api_projects_get(tn_req *req)
{
	const char *params[1];
	char id[24];

	if (project_id(req, id) != 0) {
		return;
	}
	params[0] = id;
	tn_resource_read(req, 200,
	    "SELECT project_doc(p), p.id, p.version FROM projects p"
	    " WHERE p.id = $1",
	    1, params, 'p', "project");
}

/* PATCH /api/projects/{id} */
void
tn_api_projects_update(tn_req *req)
{
	const char *name, *description, *params[4];
	char id[24], version[16];
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	PGresult *r;
	int match;

	if (project_id(req, id) != 0) {
		return;
	}
	match = tn_resource_if_match(req, 'p', id, version);
	if (match < 0) {
		tn_http_problem(req, 412, "precondition-failed",
		    "If-Match does not name a version of this project", NULL);
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "name", 0, 0, 1, NAME_MAX_CHARS, 1, &name);
	tn_valid_string(&v, body, "description", 0, 0, 0, DESCRIPTION_MAX_CHARS,
	    0, &description);
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	params[0] = id;
	params[1] = name;
	params[2] = description;
	params[3] = match ? version : NULL;
	r = tn_db_exec(req->db,
	    "UPDATE projects SET name = coalesce($2, name),"
	    " description = coalesce($3, description),"
	    " version = version + 1, updated_at = now()"
	    " WHERE id = $1 AND ($4::int IS NULL OR version = $4::int)"
	    " RETURNING project_doc(projects), id, version",
	    4, params, 0, &st);
	json_object_put(body);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	if (PQntuples(r) == 0) {
		tn_resource_missed(req, "projects", id, "project");
	} else if ((st = tn_db_commit(req->db)) != TN_DB_OK) {
		tn_answer_db_failure(req, st);
	} else {
		tn_resource_answer(req, 200, r, 'p');
	}
	PQclear(r);
}

/* DELETE /api/projects/{id}: its tasks go in the same transaction. */
void
tn_api_projects_delete(tn_req *req)
{
	const char *params[1];
	char id[24];

	if (project_id(req, id) != 0) {
		return;
	}
	params[0] = id;
	tn_resource_delete(
	    req, "DELETE FROM projects WHERE id = $1", 1, params, "project");
}
