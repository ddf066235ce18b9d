/* Admin API on the main domain: register tenants, list and show them. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "onboard.h"

#define NAME_MAX_LEN     200
#define EMAIL_MAX_LEN    254
#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024

/*
 * Reads the string member key of obj into *out. Returns 0 when it is a
 * string (any length), else adds an error for field and returns -1.
 */
static int
string_member(json_object *obj, const char *key, const char *field,
    int required, const char **out, json_object **errors)
{
	json_object *v;

	*out = NULL;
	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null)) {
		if (required) {
			*errors =
			    tn_http_field_error(*errors, field, "is required");
			return -1;
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*errors =
		    tn_http_field_error(*errors, field, "must be a string");
		return -1;
	}

	*out = json_object_get_string(v);
	return 0;
}

static int
has_control_chars(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return 1;
		}
	}
	return 0;
}

static void
check_length(const char *v, const char *field, size_t min, size_t max,
    json_object **errors)
{
	char detail[96];
	size_t len = strlen(v);

	if (len < min || len > max) {
		snprintf(detail, sizeof(detail),
		    "must be %zu to %zu characters long", min, max);
		*errors = tn_http_field_error(*errors, field, detail);
	} else if (has_control_chars(v)) {
		*errors = tn_http_field_error(
		    *errors, field, "must not contain control characters");
	}
}

/* An address with one "@", something before it and a dot after it. */
static int
plausible_email(const char *v)
{
	const char *at = strchr(v, '@');

	return at != NULL && at != v && strchr(at + 1, '@') == NULL &&
	    strchr(at + 1, '.') != NULL && at[1] != '.' &&
	    v[strlen(v) - 1] != '.' && strpbrk(v, " \t<>()[],;:\\\"") == NULL;
}

/* Validates the register-user body into nt; returns the errors or NULL. */
static json_object *
parse_new_tenant(json_object *body, tn_new_tenant *nt)
{
	json_object *errors = NULL, *owner = NULL;
	const char *problem;

	memset(nt, 0, sizeof(*nt));

	if (string_member(body, "subdomain", "subdomain", 1, &nt->subdomain,
	        &errors) == 0) {
		problem = tn_tenant_label_problem(nt->subdomain);
		if (problem != NULL) {
			errors =
			    tn_http_field_error(errors, "subdomain", problem);
		}
	}
	if (string_member(body, "name", "name", 1, &nt->name, &errors) == 0) {
		check_length(nt->name, "name", 1, NAME_MAX_LEN, &errors);
	}

	if (!json_object_object_get_ex(body, "owner", &owner) ||
	    !json_object_is_type(owner, json_type_object)) {
		return tn_http_field_error(errors, "owner",
		    "is required and must be an object with email and password");
	}

	if (string_member(owner, "email", "owner.email", 1, &nt->owner_email,
	        &errors) == 0) {
		check_length(
		    nt->owner_email, "owner.email", 3, EMAIL_MAX_LEN, &errors);
		if (!plausible_email(nt->owner_email)) {
			errors = tn_http_field_error(
			    errors, "owner.email", "must be an email address");
		}
	}
	if (string_member(owner, "password", "owner.password", 1,
	        &nt->owner_password, &errors) == 0) {
		check_length(nt->owner_password, "owner.password",
		    PASSWORD_MIN_LEN, PASSWORD_MAX_LEN, &errors);
	}
	if (string_member(owner, "name", "owner.name", 0, &nt->owner_name,
	        &errors) == 0) {
		if (nt->owner_name == NULL) {
			nt->owner_name = "";
		} else {
			check_length(nt->owner_name, "owner.name", 0,
			    NAME_MAX_LEN, &errors);
		}
	}

	return errors;
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

static void
answer_onboard_failure(tn_req *req, tn_onboard_status os, const char *err)
{
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
		tn_http_problem(req, 500, "onboarding-failed",
		    "onboarding stopped at a step that failed; the tenant stays in provisioning",
		    NULL);
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

	errors = parse_new_tenant(body, &nt);
	if (errors != NULL) {
		json_object *first = json_object_array_get_idx(errors, 0);
		char text[320];

		/* the first rule broken, in full; all of them in errors */
		snprintf(text, sizeof(text), "%s: %s",
		    json_object_get_string(
		        json_object_object_get(first, "field")),
		    json_object_get_string(
		        json_object_object_get(first, "detail")));
		tn_http_problem(req, 422, "validation-failed", text, errors);
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
	json_object *body, *errors = NULL;
	const char *subdomain;
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	if (string_member(
	        body, "subdomain", "subdomain", 1, &subdomain, &errors) == 0 &&
	    tn_tenant_label_problem(subdomain) != NULL) {
		errors = tn_http_field_error(
		    errors, "subdomain", tn_tenant_label_problem(subdomain));
	}
	if (errors != NULL) {
		tn_http_problem(req, 422, "validation-failed",
		    "subdomain is missing or not a valid subdomain", errors);
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

	if (tn_tenant_label_problem(req->path_arg) != NULL) {
		tn_http_problem(req, 404, "tenant-not-found",
		    "no tenant has this subdomain", NULL);
		return;
	}

	os = tn_onboard_load(req->db, req->path_arg, &t, err, sizeof(err));
	if (os != TN_ONBOARD_OK) {
		answer_onboard_failure(req, os, err);
		return;
	}
	answer_tenant(req, 200, &t);
}
