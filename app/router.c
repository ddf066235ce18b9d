/* Method and path to handler; tenant resolution and admin checks. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "handlers.h"
#include "log.h"
#include "router.h"

#define ON_MAIN   (1u << TN_SITE_MAIN)
#define ON_TENANT (1u << TN_SITE_TENANT)
#define ON_CUSTOM (1u << TN_SITE_CUSTOM)
#define ON_ANY    (ON_MAIN | ON_TENANT | ON_CUSTOM)

enum { NEEDS_TENANT = 1, NEEDS_ADMIN = 2 };

typedef struct {
	unsigned sites;
	const char *method;
	const char *pattern; /* "*" matches one non-empty path segment */
	int needs;
	void (*handler)(tn_req *req);
} route;

static const route routes[] = {
    {ON_ANY, "GET", "/healthz", 0, tn_api_healthz},
    {ON_ANY, "GET", "/readyz", 0, tn_api_readyz},
    {ON_TENANT | ON_CUSTOM, "GET", "/api/tenant", NEEDS_TENANT,
        tn_api_tenant_get},
    {ON_MAIN, "POST", "/admin/register-user", NEEDS_ADMIN,
        tn_admin_register_user},
    {ON_MAIN, "POST", "/admin/create-schema", NEEDS_ADMIN,
        tn_admin_create_schema},
    {ON_MAIN, "GET", "/admin/tenants", NEEDS_ADMIN, tn_admin_tenants_list},
    {ON_MAIN, "GET", "/admin/tenants/*", NEEDS_ADMIN, tn_admin_tenants_show},
};

/* Matches path against pattern; the "*" segment goes to *arg. */
static int
path_matches(const char *pattern, const char *path, const char **arg)
{
	const char *star = strchr(pattern, '*');
	size_t prefix;

	if (star == NULL) {
		return strcmp(pattern, path) == 0;
	}

	prefix = (size_t)(star - pattern);
	if (strncmp(pattern, path, prefix) != 0) {
		return 0;
	}
	path += prefix;
	if (*path == '\0' || strchr(path, '/') != NULL) {
		return 0;
	}

	*arg = path;
	return 1;
}

/* Compares the bearer token with the configured one in constant time. */
static int
admin_authorized(tn_req *req)
{
	static const char prefix[] = "Bearer ";
	unsigned char want[32], got[32];
	const char *token, *given;

	token = req->settings->admin_token;
	given = req->authorization;
	if (token == NULL || strncmp(given, prefix, strlen(prefix)) != 0) {
		return 0;
	}
	given += strlen(prefix);

	/* hashing first makes the comparison independent of lengths */
	crypto_generichash(want, sizeof(want), (const unsigned char *)token,
	    strlen(token), NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)given,
	    strlen(given), NULL, 0);
	return sodium_memcmp(want, got, sizeof(want)) == 0;
}

/* Resolves the request's tenant; answers and returns -1 when it can't. */
static int
resolve_tenant(tn_req *req)
{
	tn_tenant_status st;
	int by_host = req->site == TN_SITE_CUSTOM;

	if (!by_host && tn_tenant_label_problem(req->tenant_key) != NULL) {
		tn_http_problem(req, 404, "tenant-not-found",
		    "no tenant has this subdomain", NULL);
		return -1;
	}

	st = tn_tenant_resolve(req->db, req->tenant_key, by_host,
	    req->settings->tenant_cache_ms, &req->tenant);
	switch (st) {
	case TN_TENANT_FOUND:
		break;
	case TN_TENANT_UNKNOWN:
		tn_http_problem(req, 404, "tenant-not-found",
		    by_host ? "no tenant has this host name"
		            : "no tenant has this subdomain",
		    NULL);
		return -1;
	case TN_TENANT_DB_DOWN:
		tn_answer_db_failure(req, TN_DB_DOWN);
		return -1;
	case TN_TENANT_DB_ERROR:
		tn_answer_db_failure(req, TN_DB_ERROR);
		return -1;
	}

	if (strcmp(req->tenant.status, "suspended") == 0) {
		tn_http_problem(req, 403, "tenant-suspended",
		    "this tenant is suspended", NULL);
		return -1;
	}
	if (strcmp(req->tenant.status, "active") != 0) {
		tn_http_problem(req, 404, "tenant-not-found",
		    "no active tenant has this name", NULL);
		return -1;
	}

	req->has_tenant = 1;
	return 0;
}

static void
method_not_allowed(tn_req *req, unsigned site_bit)
{
	char allow[64] = "";
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *arg;

		if ((routes[i].sites & site_bit) &&
		    path_matches(routes[i].pattern, req->path, &arg) &&
		    strstr(allow, routes[i].method) == NULL) {
			if (allow[0] != '\0') {
				strcat(allow, ", ");
			}
			strcat(allow, routes[i].method);
		}
	}

	tn_http_problem(req, 405, "method-not-allowed",
	    "this method is not allowed on this resource", NULL);
	tn_http_header(req, "Allow", allow);
}

void
tn_router_dispatch(tn_req *req)
{
	unsigned site_bit = 1u << req->site;
	const route *match = NULL;
	int path_known = 0;
	const char *arg = NULL;
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!(routes[i].sites & site_bit) ||
		    !path_matches(routes[i].pattern, req->path, &arg)) {
			continue;
		}
		path_known = 1;
		if (strcmp(routes[i].method, req->method) == 0 ||
		    (strcmp(req->method, "HEAD") == 0 &&
		        strcmp(routes[i].method, "GET") == 0)) {
			match = &routes[i];
			break;
		}
	}

	if (req->site == TN_SITE_NONE || (!path_known && match == NULL)) {
		tn_http_problem(
		    req, 404, "not-found", "no such resource", NULL);
		return;
	}
	if (match == NULL) {
		method_not_allowed(req, site_bit);
		return;
	}

	req->path_arg = arg;

	if ((match->needs & NEEDS_ADMIN) && !admin_authorized(req)) {
		tn_http_problem(req, 401, "unauthorized",
		    "a valid admin token is required (Authorization: Bearer)",
		    NULL);
		tn_http_header(req, "WWW-Authenticate", "Bearer");
		return;
	}
	if ((match->needs & NEEDS_TENANT) && resolve_tenant(req) != 0) {
		return;
	}

	match->handler(req);
}
