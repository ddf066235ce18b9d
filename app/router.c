/* Method and path to handler; tenant resolution and admin checks. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth.h"
#include "handlers.h"
#include "log.h"
#include "router.h"
#include "scoreboard.h"

#define ON_MAIN   (1u << TN_SITE_MAIN)
#define ON_TENANT (1u << TN_SITE_TENANT)
#define ON_CUSTOM (1u << TN_SITE_CUSTOM)
#define ON_ANY    (ON_MAIN | ON_TENANT | ON_CUSTOM)

enum {
	NEEDS_TENANT = 1, /* a resolved, active tenant */
	NEEDS_ADMIN = 2,  /* the admin token */
	NEEDS_USER = 4,   /* a signed-in user: runs in a scoped transaction */
	NEEDS_OWNER = 8,  /* a signed-in owner */
	NEEDS_STATUS = 16 /* nginx's mark for the operator's network */
};

#define USER   (NEEDS_TENANT | NEEDS_USER)
#define OWNER  (NEEDS_TENANT | NEEDS_USER | NEEDS_OWNER)
#define ON_SUB (ON_TENANT | ON_CUSTOM)

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
    {ON_SUB, "GET", "/api/tenant", NEEDS_TENANT, tn_api_tenant_get},
    {ON_SUB, "POST", "/api/session", NEEDS_TENANT, tn_api_session_create},
    {ON_SUB, "DELETE", "/api/session", USER, tn_api_session_delete},
    {ON_SUB, "GET", "/api/me", USER, tn_api_me_get},
    {ON_SUB, "PATCH", "/api/me", USER, tn_api_me_update},
    {ON_SUB, "GET", "/api/tokens", USER, tn_api_tokens_list},
    {ON_SUB, "POST", "/api/tokens", USER, tn_api_tokens_create},
    {ON_SUB, "DELETE", "/api/tokens/*", USER, tn_api_tokens_delete},
    {ON_SUB, "GET", "/api/users", OWNER, tn_api_users_list},
    {ON_SUB, "POST", "/api/users", OWNER, tn_api_users_create},
    {ON_SUB, "PATCH", "/api/users/*", OWNER, tn_api_users_update},
    {ON_SUB, "DELETE", "/api/users/*", OWNER, tn_api_users_delete},
    {ON_SUB, "GET", "/api/projects", USER, tn_api_projects_list},
    {ON_SUB, "POST", "/api/projects", USER, tn_api_projects_create},
    {ON_SUB, "GET", "/api/projects/*", USER, tn_api_projects_get},
    {ON_SUB, "PATCH", "/api/projects/*", USER, tn_api_projects_update},
    {ON_SUB, "DELETE", "/api/projects/*", USER, tn_api_projects_delete},
    {ON_SUB, "GET", "/api/projects/*/tasks", USER, tn_api_tasks_list},
    {ON_SUB, "POST", "/api/projects/*/tasks", USER, tn_api_tasks_create},
    {ON_SUB, "GET", "/api/tasks/*", USER, tn_api_tasks_get},
    {ON_SUB, "PATCH", "/api/tasks/*", USER, tn_api_tasks_update},
    {ON_SUB, "DELETE", "/api/tasks/*", USER, tn_api_tasks_delete},
    {ON_MAIN, "POST", "/admin/register-user", NEEDS_ADMIN,
        tn_admin_register_user},
    {ON_MAIN, "POST", "/admin/create-schema", NEEDS_ADMIN,
        tn_admin_create_schema},
    {ON_MAIN, "GET", "/admin/tenants", NEEDS_ADMIN, tn_admin_tenants_list},
    {ON_MAIN, "GET", "/admin/tenants/*", NEEDS_ADMIN, tn_admin_tenants_show},
    {ON_MAIN, "DELETE", "/admin/tenants/*", NEEDS_ADMIN,
        tn_admin_tenants_delete},
    {ON_MAIN, "POST", "/admin/tenants/*/suspend", NEEDS_ADMIN,
        tn_admin_tenants_suspend},
    {ON_MAIN, "POST", "/admin/tenants/*/resume", NEEDS_ADMIN,
        tn_admin_tenants_resume},
    {ON_MAIN, "POST", "/admin/tenants/*/retry", NEEDS_ADMIN,
        tn_admin_tenants_retry},
    {ON_MAIN, "GET", "/admin/audit", NEEDS_ADMIN, tn_admin_audit_list},
    {ON_MAIN, "GET", "/admin/tenants/*/domains", NEEDS_ADMIN,
        tn_admin_domains_list},
    {ON_MAIN, "POST", "/admin/tenants/*/domains", NEEDS_ADMIN,
        tn_admin_domains_add},
    {ON_MAIN, "DELETE", "/admin/tenants/*/domains/*", NEEDS_ADMIN,
        tn_admin_domains_delete},
    {ON_MAIN, "POST", "/admin/trigger-pipeline", NEEDS_ADMIN,
        tn_admin_trigger_pipeline},
    {ON_MAIN, "GET", "/status", NEEDS_STATUS, tn_status_page},
    {ON_MAIN, "GET", "/metrics", NEEDS_STATUS, tn_status_metrics},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* the scoreboard keeps a histogram per route, and one for no route */
_Static_assert(NROUTES < TN_SB_ROUTES, "TN_SB_ROUTES is too small");

/*
 * Matches path against pattern segment by segment; each "*" segment
 * matches one non-empty segment, copied in order into args (at most
 * TN_PATH_ARGS of them, each shorter than TN_PATH_ARG).
 */
static int
path_matches(const char *pattern, const char *path, char args[][TN_PATH_ARG])
{
	char found[TN_PATH_ARGS][TN_PATH_ARG];
	size_t seg;
	int n = 0;

	while (*pattern != '\0' && *path != '\0') {
		if (*pattern != '/' || *path != '/') {
			return 0;
		}
		pattern++;
		path++;

		seg = strcspn(path, "/");
		if (pattern[0] == '*' && (pattern[1] == '/' || !pattern[1])) {
			if (seg == 0 || seg >= TN_PATH_ARG ||
			    n == TN_PATH_ARGS) {
				return 0;
			}
			memcpy(found[n], path, seg);
			found[n++][seg] = '\0';
			pattern++;
		} else {
			if (strncmp(pattern, path, seg) != 0 ||
			    (pattern[seg] != '/' && pattern[seg] != '\0')) {
				return 0;
			}
			pattern += seg;
		}
		path += seg;
	}

	if (*pattern != '\0' || *path != '\0') {
		return 0;
	}
	memset(args, 0, TN_PATH_ARGS * TN_PATH_ARG);
	memcpy(args, found, (size_t)n * TN_PATH_ARG);
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
	if (token == NULL || strncasecmp(given, prefix, strlen(prefix)) != 0) {
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
	char host[256];

	if (!by_host && tn_tenant_label_problem(req->tenant_key) != NULL) {
		tn_http_problem(req, 404, "tenant-not-found",
		    "no tenant has this subdomain", NULL);
		return -1;
	}

	/* a host that could never be stored is nobody's (bytes included) */
	if (by_host &&
	    tn_domain_normalise(req->tenant_key, req->settings->domain, host,
	        sizeof(host)) != NULL) {
		tn_http_problem(req, 404, "tenant-not-found",
		    "no tenant has this host name", NULL);
		return -1;
	}

	st = tn_tenant_resolve(req->db, by_host ? host : req->tenant_key,
	    by_host, req->settings->tenant_cache_ms, &req->tenant);
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
	if (tn_tenant_schema_outdated(&req->tenant)) {
		tn_http_problem(req, 503, "schema-outdated",
		    "this tenant's data is being upgraded; try again shortly",
		    NULL);
		tn_http_header(req, "Retry-After", "30");
		return -1;
	}

	req->has_tenant = 1;
	return 0;
}

/*
 * Runs a handler for a signed-in user: the tenant's scoped transaction
 * begins, the credentials are checked in it, and whatever the handler
 * left open is rolled back.
 */
static void
run_as_user(tn_req *req, const route *match)
{
	tn_db_status st;

	st = tn_db_begin_scoped(req->db, req->tenant.schema, req->tenant.role);
	if (st != TN_DB_OK) {
		tn_answer_db_failure(req, st);
		return;
	}

	if (tn_auth_user(req) == 0) {
		if ((match->needs & NEEDS_OWNER) &&
		    strcmp(req->user_role, "owner") != 0) {
			tn_http_problem(req, 403, "forbidden",
			    "only an owner of this tenant may do this", NULL);
		} else {
			match->handler(req);
		}
	}

	tn_db_rollback(req->db);
}

/*
 * Runs an admin handler after checking the token; every request that
 * may change something goes to the audit log with its outcome, refused
 * ones included.
 */
static void
run_as_admin(tn_req *req, const route *match)
{
	if (admin_authorized(req)) {
		match->handler(req);
	} else {
		tn_http_problem(req, 401, "unauthorized",
		    "a valid admin token is required (Authorization: Bearer)",
		    NULL);
		tn_http_header(req, "WWW-Authenticate", "Bearer");
	}

	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0) {
		tn_admin_audit_record(req);
	}
}

static void
method_not_allowed(tn_req *req, unsigned site_bit)
{
	char allow[96] = "";
	size_t i;

	for (i = 0; i < NROUTES; i++) {
		char arg[TN_PATH_ARGS][TN_PATH_ARG];

		if ((routes[i].sites & site_bit) &&
		    path_matches(routes[i].pattern, req->path, arg) &&
		    strstr(allow, routes[i].method) == NULL) {
			if (allow[0] != '\0') {
				strcat(allow, ", ");
			}
			strcat(allow, routes[i].method);
			if (strcmp(routes[i].method, "GET") == 0) {
				strcat(allow, ", HEAD");
			}
		}
	}

	tn_http_problem(req, 405, "method-not-allowed",
	    "this method is not allowed on this resource", NULL);
	tn_http_header(req, "Allow", allow);
}

/*
 * Whether the route is there for this request: served on its site, and for
 * the operator's routes only when nginx marked the request as from inside.
 */
static int
route_exists(const route *r, const tn_req *req, unsigned site_bit)
{
	if (!(r->sites & site_bit)) {
		return 0;
	}
	return !(r->needs & NEEDS_STATUS) || req->from_operator;
}

void
tn_router_dispatch(tn_req *req)
{
	unsigned site_bit = 1u << req->site;
	const route *match = NULL;
	int path_known = 0;
	char arg[TN_PATH_ARGS][TN_PATH_ARG];
	size_t i;

	/* the method first: it is cheaper to compare than the path */
	for (i = 0; i < NROUTES; i++) {
		if (!route_exists(&routes[i], req, site_bit) ||
		    (strcmp(routes[i].method, req->method) != 0 &&
		        (strcmp(req->method, "HEAD") != 0 ||
		            strcmp(routes[i].method, "GET") != 0)) ||
		    !path_matches(routes[i].pattern, req->path, arg)) {
			continue;
		}
		match = &routes[i];
		break;
	}
	for (i = 0; match == NULL && !path_known && i < NROUTES; i++) {
		path_known = route_exists(&routes[i], req, site_bit) &&
		    path_matches(routes[i].pattern, req->path, arg);
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

	req->route = (int)(match - routes) + 1;
	memcpy(req->path_arg, arg[0], sizeof(req->path_arg));
	memcpy(req->path_arg2, arg[1], sizeof(req->path_arg2));

	if (match->needs & NEEDS_ADMIN) {
		run_as_admin(req, match);
		return;
	}
	if ((match->needs & NEEDS_TENANT) && resolve_tenant(req) != 0) {
		return;
	}
	if (!(match->needs & NEEDS_USER)) {
		match->handler(req);
		return;
	}

	run_as_user(req, match);
}

int
tn_router_route(int index, const char **method, const char **pattern)
{
	if (index < 1 || (size_t)index > NROUTES) {
		return -1;
	}
	*method = routes[index - 1].method;
	*pattern = routes[index - 1].pattern;
	return 0;
}
