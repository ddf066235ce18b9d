/* Liveness (no database) and readiness (the worker's own connection). */
#include "config.h"

#include <string.h>

#include "handlers.h"

void
tn_api_healthz(tn_req *req)
{
	json_object *doc = json_object_new_object();

	json_object_object_add(doc, "status", json_object_new_string("ok"));
	tn_http_json(req, 200, doc);
}

/*
 * Readiness also reports the connection's session state between
 * requests: the login role and the default search_path, which shows that
 * no tenant scoping outlives its transaction.
 */
void
tn_api_readyz(tn_req *req)
{
	json_object *doc, *database;
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(req->db,
	    "SELECT current_user, current_setting('search_path')", 0, NULL,
	    &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	database = json_object_new_object();
	json_object_object_add(
	    database, "role", json_object_new_string(PQgetvalue(r, 0, 0)));
	json_object_object_add(database, "search_path",
	    json_object_new_string(PQgetvalue(r, 0, 1)));
	PQclear(r);

	doc = json_object_new_object();
	json_object_object_add(doc, "status", json_object_new_string("ready"));
	json_object_object_add(doc, "database", database);
	tn_http_json(req, 200, doc);
}

void
tn_answer_db_failure(tn_req *req, tn_db_status st)
{
	if (st == TN_DB_DOWN) {
		tn_http_problem(req, 503, "database-unavailable",
		    "the database is not reachable; try again shortly", NULL);
		tn_http_header(req, "Retry-After", "1");
		return;
	}

	/* a deadlock or serialization failure: the same request may pass */
	if (strcmp(req->db->sqlstate, "40P01") == 0 ||
	    strcmp(req->db->sqlstate, "40001") == 0) {
		tn_http_problem(req, 503, "conflict-retry",
		    "the request collided with another one; try again", NULL);
		tn_http_header(req, "Retry-After", "1");
		return;
	}

	/* statement_timeout and lock timeouts: the query took too long */
	if (strcmp(req->db->sqlstate, "57014") == 0 ||
	    strcmp(req->db->sqlstate, "55P03") == 0) {
		tn_http_problem(req, 503, "database-timeout",
		    "the database did not answer in time", NULL);
		return;
	}

	tn_http_problem(req, 500, "internal-error",
	    "the request failed inside the service; it has been logged", NULL);
}
