/* The tenant's own view of itself, read inside its schema. */
#include "config.h"

#include <stdlib.h>

#include "handlers.h"

void
tn_tenant_json(json_object *doc, const tn_tenant *t)
{
	json_object_object_add(
	    doc, "subdomain", json_object_new_string(t->subdomain));
	json_object_object_add(doc, "name", json_object_new_string(t->name));
	json_object_object_add(
	    doc, "status", json_object_new_string(t->status));
	json_object_object_add(
	    doc, "created_at", json_object_new_string(t->created_at));
}

/*
 * GET /api/tenant: the tenant's name from the control plane, and its
 * schema and user count from a query that runs inside the tenant's scope
 * (scope and query in one round trip, one implicit transaction).
 */
void
tn_api_tenant_get(tn_req *req)
{
	json_object *doc;
	tn_db_status st;
	PGresult *r;

	r = tn_db_read_scoped(req->db, req->tenant.schema, req->tenant.role,
	    "SELECT current_schema(), (SELECT count(*) FROM users)", 0, NULL,
	    &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	doc = json_object_new_object();
	tn_tenant_json(doc, &req->tenant);
	json_object_object_add(
	    doc, "schema", json_object_new_string(PQgetvalue(r, 0, 0)));
	json_object_object_add(doc, "users",
	    json_object_new_int64(strtoll(PQgetvalue(r, 0, 1), NULL, 10)));
	PQclear(r);

	tn_http_json(req, 200, doc);
}
