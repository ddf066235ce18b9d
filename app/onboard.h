/* Onboarding: the recorded, idempotent steps that create a tenant. */
#ifndef TN_ONBOARD_H
#define TN_ONBOARD_H

#include <stddef.h>

#include <json-c/json.h>

#include "db.h"
#include "tenant.h"

typedef struct {
	const char *subdomain;
	const char *name;
	const char *owner_email;
	const char *owner_name;
	const char *owner_password;
} tn_new_tenant;

typedef enum {
	TN_ONBOARD_OK = 0,
	TN_ONBOARD_TAKEN,     /* the subdomain belongs to a tenant already */
	TN_ONBOARD_NOT_FOUND, /* no such tenant */
	TN_ONBOARD_DB_DOWN,
	TN_ONBOARD_FAILED /* a step failed; detail in the caller's buffer */
} tn_onboard_status;

/*
 * Registers a tenant: reserve the name, create its role, create and
 * migrate its schema, store the first user, activate. Each step is
 * recorded in public.onboarding_steps; a failed step leaves the tenant in
 * "provisioning". On success t holds the active tenant.
 */
tn_onboard_status tn_onboard_register(tn_db *db, const char *db_dir,
    const tn_new_tenant *nt, tn_tenant *t, char *err, size_t errlen);

/*
 * Resumes the onboarding of a tenant in "provisioning" at the first step
 * not done. TAKEN (detail in err) when the tenant is in another status.
 */
tn_onboard_status tn_onboard_retry(tn_db *db, const char *db_dir,
    const char *subdomain, tn_tenant *t, char *err, size_t errlen);

/*
 * Runs the role and schema steps alone for an existing tenant
 * (idempotent: a schema that is there and up to date is left as it is).
 */
tn_onboard_status tn_onboard_schema(tn_db *db, const char *db_dir,
    const char *subdomain, tn_tenant *t, char *err, size_t errlen);

/*
 * Validates a register-user body ({"subdomain", "name", "owner": {"email",
 * "password", "name"?}}) into nt, whose strings then point into body.
 * Returns NULL, or the errors array ({field, detail}) the caller puts.
 */
json_object *tn_onboard_parse(json_object *body, tn_new_tenant *nt);

/*
 * The statement that creates a tenant's role (when missing) and makes the
 * login role a member of it, as the role step runs it.
 */
void tn_onboard_role_sql(const char *role, char *sql, size_t len);

/* Loads one tenant by subdomain from the control plane. */
tn_onboard_status tn_onboard_load(
    tn_db *db, const char *subdomain, tn_tenant *t, char *err, size_t errlen);

#endif
