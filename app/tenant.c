/* Tenants: subdomain rules, derived names, and the per-worker cache. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tenant.h"

#define CACHE_SLOTS 128

typedef struct {
	char key[256];
	int by_host;
	long long fetched_ms;
	tn_tenant tenant;
} cache_slot;

static cache_slot cache[CACHE_SLOTS];
static int required_schema;

/*
 * Names that would be confusing or dangerous as a tenant's subdomain:
 * the service's own hosts, mail and DNS names, and PostgreSQL's own
 * schema names. Anything starting with "pg" is refused separately.
 */
static const char *const reserved[] = {"admin", "api", "app", "assets", "auth",
    "autoconfig", "autodiscover", "billing", "blog", "cdn", "dashboard",
    "demo-admin", "dev", "dns", "docs", "email", "ftp", "help", "imap", "info",
    "information-schema", "internal", "localhost", "login", "mail", "mx", "ns",
    "ns1", "ns2", "ns3", "ns4", "pop", "pop3", "postgres", "public", "root",
    "smtp", "static", "status", "support", "system", "tenantry", "test",
    "webmail", "www", "www1", "www2", NULL};

const char *
tn_tenant_label_problem(const char *label)
{
	size_t len, i;
	char c;

	len = strlen(label);
	if (len == 0) {
		return "a subdomain must not be empty";
	}
	if (len > TN_LABEL_MAX) {
		return "a subdomain must be at most 63 characters long";
	}

	for (i = 0; i < len; i++) {
		c = label[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '-')) {
			return "a subdomain may contain only lower-case letters, digits and hyphens";
		}
	}

	if (label[0] == '-' || label[len - 1] == '-') {
		return "a subdomain must start and end with a letter or a digit";
	}
	if (len >= 4 && label[2] == '-' && label[3] == '-') {
		return "a subdomain must not have hyphens in its third and fourth place (reserved for encoded names)";
	}
	if (strncmp(label, "pg", 2) == 0) {
		return "a subdomain must not start with \"pg\" (reserved by PostgreSQL)";
	}

	for (i = 0; reserved[i] != NULL; i++) {
		if (strcmp(label, reserved[i]) == 0) {
			return "this subdomain is reserved";
		}
	}

	return NULL;
}

void
tn_tenant_schema_name(const char *label, char *out)
{
	static const size_t keep = 48;
	unsigned char hash[6];
	size_t len, i;

	len = strlen(label);
	out[0] = 't';
	out[1] = '_';

	for (i = 0; i < len && i < TN_LABEL_MAX - 2; i++) {
		out[2 + i] = label[i] == '-' ? '_' : label[i];
	}
	out[2 + i] = '\0';

	if (len <= TN_LABEL_MAX - 2) {
		return;
	}

	/* "h_" keeps hashed names apart from every "t_" + label name */
	crypto_generichash(
	    hash, sizeof(hash), (const unsigned char *)label, len, NULL, 0);
	out[0] = 'h';
	out[2 + keep] = '_';
	sodium_bin2hex(out + 3 + keep, 13, hash, sizeof(hash));
}

static void
copy_field(char *dst, size_t size, const PGresult *r, int row, int col)
{
	snprintf(dst, size, "%s", PQgetvalue(r, row, col));
}

void
tn_tenant_from_row(tn_tenant *t, const PGresult *r, int row)
{
	copy_field(t->id, sizeof(t->id), r, row, 0);
	copy_field(t->subdomain, sizeof(t->subdomain), r, row, 1);
	copy_field(t->name, sizeof(t->name), r, row, 2);
	copy_field(t->status, sizeof(t->status), r, row, 3);
	copy_field(t->schema, sizeof(t->schema), r, row, 4);
	copy_field(t->role, sizeof(t->role), r, row, 5);
	copy_field(t->created_at, sizeof(t->created_at), r, row, 6);
	t->schema_version = atoi(PQgetvalue(r, row, 7));
}

static cache_slot *
cache_find(const char *key, int by_host, long long now, int cache_ms)
{
	int i;

	for (i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].key[0] != '\0' && cache[i].by_host == by_host &&
		    strcmp(cache[i].key, key) == 0 &&
		    now - cache[i].fetched_ms < cache_ms) {
			return &cache[i];
		}
	}
	return NULL;
}

/* The slot to overwrite: the same key's, an empty one or the oldest. */
static cache_slot *
cache_victim(const char *key, int by_host)
{
	cache_slot *oldest = &cache[0];
	int i;

	for (i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].key[0] == '\0' ||
		    (cache[i].by_host == by_host &&
		        strcmp(cache[i].key, key) == 0)) {
			return &cache[i];
		}
		if (cache[i].fetched_ms < oldest->fetched_ms) {
			oldest = &cache[i];
		}
	}
	return oldest;
}

tn_tenant_status
tn_tenant_resolve(
    tn_db *db, const char *key, int by_host, int cache_ms, tn_tenant *t)
{
	static const char by_label_sql[] =
	    "SELECT " TN_TENANT_COLUMNS " FROM public.tenants t"
	    " WHERE t.subdomain = $1";
	static const char by_host_sql[] =
	    "SELECT " TN_TENANT_COLUMNS " FROM public.tenant_domains d"
	    " JOIN public.tenants t"
	    " ON t.id = d.tenant_id"
	    " WHERE d.host = $1";
	const char *params[1] = {key};
	tn_tenant_status result;
	tn_db_status st;
	cache_slot *slot;
	long long now;
	PGresult *r;

	if (strlen(key) >= sizeof(cache[0].key)) {
		return TN_TENANT_UNKNOWN;
	}

	now = tn_db_now_ms();
	slot = cache_find(key, by_host, now, cache_ms);
	if (slot != NULL) {
		*t = slot->tenant;
		return TN_TENANT_FOUND;
	}

	r = tn_db_query(
	    db, by_host ? by_host_sql : by_label_sql, 1, params, &st);
	if (r == NULL) {
		return st == TN_DB_DOWN ? TN_TENANT_DB_DOWN
		                        : TN_TENANT_DB_ERROR;
	}

	result = TN_TENANT_UNKNOWN;
	if (PQntuples(r) == 1) {
		tn_tenant_from_row(t, r, 0);
		result = TN_TENANT_FOUND;
	}

	/*
	 * Only active tenants are kept: a refused one is looked up again, so
	 * that one registered anew under its name is served at once.
	 */
	if (result == TN_TENANT_FOUND && strcmp(t->status, "active") == 0) {
		slot = cache_victim(key, by_host);
		snprintf(slot->key, sizeof(slot->key), "%s", key);
		slot->by_host = by_host;
		slot->fetched_ms = now;
		slot->tenant = *t;
	}

	PQclear(r);
	return result;
}

void
tn_tenant_cache_clear(void)
{
	memset(cache, 0, sizeof(cache));
}

void
tn_tenant_require_schema(int version)
{
	required_schema = version;
}

int
tn_tenant_schema_outdated(const tn_tenant *t)
{
	return t->schema_version < required_schema;
}
