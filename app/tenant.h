/* Tenants: name rules, schema and role names, resolution with a cache. */
#ifndef TN_TENANT_H
#define TN_TENANT_H

#include <stddef.h>

#include "db.h"

#define TN_LABEL_MAX 63

typedef struct {
	char id[24];
	char subdomain[TN_LABEL_MAX + 1];
	char name[256];
	char status[16]; /* provisioning, active, suspended, deleted */
	char schema[TN_LABEL_MAX + 1];
	char role[TN_LABEL_MAX + 1];
	char created_at[40];
	int schema_version; /* newest tenant migration applied */
} tn_tenant;

typedef enum {
	TN_TENANT_FOUND = 0,
	TN_TENANT_UNKNOWN,
	TN_TENANT_DB_DOWN,
	TN_TENANT_DB_ERROR
} tn_tenant_status;

/*
 * Checks that label is a subdomain a tenant may have: a DNS label of
 * lower-case letters, digits and inner hyphens, at most 63 characters,
 * and not a reserved name. Returns NULL when it is, else the rule it
 * breaks as a sentence.
 */
const char *tn_tenant_label_problem(const char *label);

/*
 * Derives the schema (and role) name of a tenant from its subdomain:
 * "t_" and the label with hyphens as underscores; labels too long for a
 * PostgreSQL name become "h_", their start and a hash of the whole label.
 * out must hold TN_LABEL_MAX + 1 bytes.
 */
void tn_tenant_schema_name(const char *label, char *out);

/* The columns every tenant query selects, in tn_tenant's order. */
#define TN_TENANT_COLUMNS                                                      \
	"t.id, t.subdomain, t.name, t.status, t.schema_name, t.role_name,"     \
	" to_char(t.created_at AT TIME ZONE 'UTC',"                            \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), t.schema_version"

/* Copies row of a result selecting TN_TENANT_COLUMNS into t. */
void tn_tenant_from_row(tn_tenant *t, const PGresult *r, int row);

/*
 * Resolves a wildcard label (or, with by_host, a custom host name) to a
 * tenant. Results are cached per worker for at most cache_ms, so a change
 * of status is seen within that time.
 */
tn_tenant_status tn_tenant_resolve(
    tn_db *db, const char *key, int by_host, int cache_ms, tn_tenant *t);

/* Forgets every cached tenant (after the worker changed one itself). */
void tn_tenant_cache_clear(void);

/*
 * The schema version this process needs (the newest tenant migration it
 * knows), set once at start-up; a tenant behind it is not served.
 */
void tn_tenant_require_schema(int version);

/* Is t's schema older than the version this process needs? */
int tn_tenant_schema_outdated(const tn_tenant *t);

#endif
