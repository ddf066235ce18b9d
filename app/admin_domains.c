/* A tenant's own host names besides its subdomain (custom domains). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "onboard.h"
#include "resource.h"
#include "valid.h"

#define DOMAIN_DOC                                                             \
	"json_build_object('domain', d.host, 'primary', d.is_primary,"         \
	" 'created_at', to_char(d.created_at AT TIME ZONE 'UTC',"              \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"

/*
 * Brings a host name into the one form it is stored and compared in:
 * lower case, no trailing dot. Returns NULL when it is one, else the rule
 * it breaks.
 */
const char *
tn_domain_normalise(
    const char *in, const char *main_domain, char *out, size_t outlen)
{
	size_t len = strlen(in), i, label = 0, labels = 1, main_len;
	int digits_only = 1;

	if (len > 0 && in[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len > 253 || len >= outlen) {
		return "must be a host name of at most 253 characters";
	}

	for (i = 0; i < len; i++) {
		char c = (char)tolower((unsigned char)in[i]);

		out[i] = c;
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-') {
				return "must be dot-separated labels that start and end with a letter or digit";
			}
			label = 0;
			labels++;
			digits_only = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '-') ||
		    (c == '-' && label == 0) || ++label > 63) {
			return "must be dot-separated labels of letters, digits and inner hyphens, at most 63 each";
		}
		if (!(c >= '0' && c <= '9')) {
			digits_only = 0;
		}
	}
	out[len] = '\0';

	if (label == 0 || out[len - 1] == '-' || labels < 2 || digits_only) {
		return "must be a host name with a domain, not an address";
	}

	main_len = strlen(main_domain);
	if (strcmp(out, main_domain) == 0 ||
	    (len > main_len && out[len - main_len - 1] == '.' &&
	        strcmp(out + len - main_len, main_domain) == 0)) {
		return "must not be the main domain or one of its subdomains";
	}
	return NULL;
}

/* Loads the tenant of the route; answers 404 and returns -1 when none. */
static int
route_tenant(tn_req *req, tn_tenant *t)
{
	char err[256];

	if (tn_tenant_label_problem(req->path_arg) == NULL &&
	    tn_onboard_load(req->db, req->path_arg, t, err, sizeof(err)) ==
	        TN_ONBOARD_OK &&
	    strcmp(t->status, "deleted") != 0) {
		return 0;
	}
	tn_http_problem(
	    req, 404, "tenant-not-found", "no tenant has this subdomain", NULL);
	return -1;
}

/* GET /admin/tenants/{subdomain}/domains */
void
tn_admin_domains_list(tn_req *req)
{
	const char *params[1];
	tn_db_status st;
	tn_tenant t;
	PGresult *r;

	if (route_tenant(req, &t) != 0) {
		return;
	}
	params[0] = t.id;

	r = tn_db_query(req->db,
	    "SELECT json_build_object('domains', coalesce(json_agg(" DOMAIN_DOC
	    " ORDER BY d.host), '[]')) FROM public.tenant_domains d"
	    " WHERE d.tenant_id = $1",
	    1, params, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	tn_resource_answer(req, 200, r, 0);
	PQclear(r);
}

/* POST /admin/tenants/{subdomain}/domains {"domain", "primary"?} */
void
tn_admin_domains_add(tn_req *req)
{
	char host[256];
	const char *domain, *problem, *params[3];
	int primary = 0;
	tn_field primary_f;
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	tn_tenant t;
	PGresult *r;

	if (route_tenant(req, &t) != 0) {
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	if (tn_valid_string(&v, body, "domain", 1, 0, 1, 254, 1, &domain) ==
	    TN_FIELD_SET) {
		problem = tn_domain_normalise(
		    domain, req->settings->domain, host, sizeof(host));
		if (problem != NULL) {
			tn_valid_error(&v, "domain", problem);
		}
	}
	primary_f = tn_valid_bool(&v, body, "primary", 0, &primary);
	json_object_put(body);
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		return;
	}

	params[0] = t.id;
	params[1] = host;
	params[2] = primary_f == TN_FIELD_SET ? (primary ? "t" : "f") : NULL;

	/*
	 * The first domain of a tenant is its primary unless told otherwise;
	 * a new primary takes the mark from the old one, in one transaction.
	 */
	st = tn_db_begin(req->db);
	r = NULL;
	if (st == TN_DB_OK) {
		/* one change of a tenant's domains at a time */
		r = tn_db_exec(req->db,
		    "SELECT 1 FROM public.tenants WHERE id = $1 FOR UPDATE", 1,
		    params, 0, &st);
		PQclear(r);
		r = NULL;
	}
	if (st == TN_DB_OK) {
		r = tn_db_exec(req->db,
		    "UPDATE public.tenant_domains SET is_primary = false"
		    " WHERE tenant_id = $1 AND is_primary AND host <> $2"
		    " AND coalesce($3::boolean, false)",
		    3, params, 0, &st);
		PQclear(r);
	}
	if (st == TN_DB_OK) {
		r = tn_db_exec(req->db,
		    "INSERT INTO public.tenant_domains AS d"
		    " (host, tenant_id, is_primary)"
		    " SELECT $2, $1, coalesce($3::boolean, NOT EXISTS (SELECT 1"
		    "  FROM public.tenant_domains WHERE tenant_id = $1))"
		    " ON CONFLICT (host) DO UPDATE"
		    " SET is_primary = coalesce($3::boolean, d.is_primary)"
		    " WHERE d.tenant_id = EXCLUDED.tenant_id"
		    " RETURNING " DOMAIN_DOC,
		    3, params, 0, &st);
	}
	if (r == NULL) {
		tn_db_rollback(req->db);
		tn_answer_db_failure(req, st);
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		tn_db_rollback(req->db);
		tn_http_problem(req, 409, "domain-taken",
		    "this host name belongs to another tenant", NULL);
		return;
	}
	st = tn_db_commit(req->db);
	if (st != TN_DB_OK) {
		PQclear(r);
		tn_answer_db_failure(req, st);
		return;
	}
	tn_resource_answer(req, 201, r, 0);
	PQclear(r);
}

/* DELETE /admin/tenants/{subdomain}/domains/{domain} */
void
tn_admin_domains_delete(tn_req *req)
{
	const char *params[2];
	char host[256];
	tn_db_status st;
	tn_tenant t;
	PGresult *r;
	int gone;

	if (route_tenant(req, &t) != 0) {
		return;
	}
	if (tn_domain_normalise(req->path_arg2, req->settings->domain, host,
	        sizeof(host)) != NULL) {
		tn_http_problem(req, 404, "not-found",
		    "the tenant has no such host name", NULL);
		return;
	}
	params[0] = t.id;
	params[1] = host;

	r = tn_db_query(req->db,
	    "DELETE FROM public.tenant_domains WHERE tenant_id = $1"
	    " AND host = $2",
	    2, params, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	gone = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);

	if (!gone) {
		tn_http_problem(req, 404, "not-found",
		    "the tenant has no such host name", NULL);
		return;
	}
	tn_resource_no_content(req);
}
