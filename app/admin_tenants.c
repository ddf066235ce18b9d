/* Admin API on the main domain: register tenants, list and show them. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "lifecycle.h"
#include "onboard.h"
#include "resource.h"
#include "valid.h"

/*
 * Answers 404 for a route whose {subdomain} could be no tenant's at all;
 * returns 1 then, 0 when the name may be looked up.
 */
static int
unknown_label(tn_req *req)
{
	if (tn_tenant_label_problem(req->path_arg) == NULL) {
		return 0;
	}
	tn_http_problem(
	    req, 404, "tenant-not-found", "no tenant has this subdomain", NULL);
	return 1;
}

static void
answer_tenant(tn_req *req, int status, const tn_tenant *t)
{
	json_object *doc = json_object_new_object();

	tn_tenant_json(doc, t);
	json_object_object_add(
	    doc, "schema", json_object_new_string(t->schema));
	tn_http_json(req, status, doc);
}

/* Answers a tenant with its onboarding steps (what happened, errors). */
static void
answer_tenant_with_steps(tn_req *req, const tn_tenant *t)
{
	const char *params[1] = {t->id};
	json_object *doc, *steps;
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(req->db,
	    "SELECT coalesce(json_agg(json_build_object('step', step,"
	    " 'status', status, 'attempts', attempts, 'last_error', last_error,"
	    " 'updated_at', to_char(updated_at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY updated_at),"
	    " '[]') FROM public.onboarding_steps WHERE tenant_id = $1",
	    1, params, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	steps = json_tokener_parse(PQgetvalue(r, 0, 0));
	PQclear(r);

	doc = json_object_new_object();
	tn_tenant_json(doc, t);
	json_object_object_add(
	    doc, "schema", json_object_new_string(t->schema));
	json_object_object_add(doc, "steps", steps);
	tn_http_json(req, 200, doc);
}

static void
answer_onboard_failure(tn_req *req, tn_onboard_status os, const char *err)
{
	char detail[768];

	switch (os) {
	case TN_ONBOARD_TAKEN:
		tn_http_problem(req, 409, "subdomain-taken", err, NULL);
		break;
	case TN_ONBOARD_NOT_FOUND:
		tn_http_problem(req, 404, "tenant-not-found",
		    "no tenant has this subdomain", NULL);
		break;
	case TN_ONBOARD_DB_DOWN:
		tn_answer_db_failure(req, TN_DB_DOWN);
		break;
	default:
		snprintf(detail, sizeof(detail),
		    "onboarding stopped: %s; the tenant stays in provisioning until a retry (POST /admin/tenants/{subdomain}/retry) completes it",
		    err);
		tn_http_problem(req, 500, "onboarding-failed", detail, NULL);
		break;
	}
}

/* POST /admin/register-user */
void
tn_admin_register_user(tn_req *req)
{
	json_object *body, *errors;
	tn_onboard_status os;
	tn_new_tenant nt;
	tn_tenant t;
	char err[512];

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	errors = tn_onboard_parse(body, &nt);
	if (errors != NULL) {
		tn_resource_invalid(req, errors);
		json_object_put(body);
		return;
	}

	os = tn_onboard_register(
	    req->db, req->settings->db_dir, &nt, &t, err, sizeof(err));
	json_object_put(body);

	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant(req, 201, &t);
}

/* POST /admin/create-schema */
void
tn_admin_create_schema(tn_req *req)
{
	const char *subdomain;
	tn_valid v = {0};
	json_object *body;
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	if (tn_valid_string(&v, body, "subdomain", 1, 0, 0, 256, 1,
	        &subdomain) == TN_FIELD_SET &&
	    tn_tenant_label_problem(subdomain) != NULL) {
		tn_valid_error(
		    &v, "subdomain", tn_tenant_label_problem(subdomain));
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	os = tn_onboard_schema(
	    req->db, req->settings->db_dir, subdomain, &t, err, sizeof(err));
	json_object_put(body);

	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant(req, 200, &t);
}

/* GET /admin/tenants */
void
tn_admin_tenants_list(tn_req *req)
{
	json_object *doc, *list, *item;
	tn_db_status st;
	tn_tenant t;
	PGresult *r;
	int i;

	r = tn_db_query(req->db,
	    "SELECT " TN_TENANT_COLUMNS " FROM public.tenants t"
	    " ORDER BY t.subdomain",
	    0, NULL, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}

	list = json_object_new_array();
	for (i = 0; i < PQntuples(r); i++) {
		tn_tenant_from_row(&t, r, i);
		item = json_object_new_object();
		tn_tenant_json(item, &t);
		json_object_object_add(
		    item, "schema", json_object_new_string(t.schema));
		json_object_array_add(list, item);
	}
	PQclear(r);

	doc = json_object_new_object();
	json_object_object_add(doc, "tenants", list);
	tn_http_json(req, 200, doc);
}

/* GET /admin/tenants/{subdomain} */
void
tn_admin_tenants_show(tn_req *req)
{
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	if (unknown_label(req)) {
		return;
	}

	os = tn_onboard_load(req->db, req->path_arg, &t, err, sizeof(err));
	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant_with_steps(req, &t);
}

static void
change(tn_req *req, tn_life_change what)
{
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	if (unknown_label(req)) {
		return;
	}

	os = tn_lifecycle_change(
	    req->db, req->path_arg, what, &t, err, sizeof(err));
	if (os == TN_ONBOARD_TAKEN) {
		tn_http_problem(req, 409, "wrong-status", err, NULL);
		return;
	}
	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant(req, 200, &t);
}

/* POST /admin/tenants/{subdomain}/suspend: refused within a second. */
void
tn_admin_tenants_suspend(tn_req *req)
{
	change(req, TN_LIFE_SUSPEND);
}

/* POST /admin/tenants/{subdomain}/resume */
void
tn_admin_tenants_resume(tn_req *req)
{
	change(req, TN_LIFE_RESUME);
}

/*
 * DELETE /admin/tenants/{subdomain}: suspends and marks deleted, keeping
 * the schema; with ?purge=true drops schema and role of a deleted tenant.
 */
void
tn_admin_tenants_delete(tn_req *req)
{
	tn_onboard_status os;
	char purge[8], err[512];
	int found;

	found = tn_http_query(req, "purge", purge, sizeof(purge));
	if (found < 0 ||
	    (found > 0 && strcmp(purge, "true") != 0 &&
	        strcmp(purge, "false") != 0)) {
		json_object *errors =
		    tn_http_field_error(NULL, "purge", "must be true or false");

		tn_resource_invalid(req, errors);
		return;
	}
	if (found == 0 || strcmp(purge, "false") == 0) {
		change(req, TN_LIFE_DELETE);
		return;
	}

	if (unknown_label(req)) {
		return;
	}
	os = tn_lifecycle_purge(req->db, req->path_arg, err, sizeof(err));
	if (os == TN_ONBOARD_TAKEN) {
		tn_http_problem(req, 409, "wrong-status", err, NULL);
		return;
	}
	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	tn_resource_no_content(req);
}

/* POST /admin/tenants/{subdomain}/retry: resumes a stopped onboarding. */
void
tn_admin_tenants_retry(tn_req *req)
{
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	if (unknown_label(req)) {
		return;
	}

	os = tn_onboard_retry(req->db, req->settings->db_dir, req->path_arg, &t,
	    err, sizeof(err));
	if (os == TN_ONBOARD_TAKEN) {
		tn_http_problem(req, 409, "wrong-status", err, NULL);
		return;
	}
	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant_with_steps(req, &t);
}
