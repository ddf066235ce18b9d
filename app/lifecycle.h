/* A tenant's life after onboarding: suspend, resume, delete, purge. */
#ifndef TN_LIFECYCLE_H
#define TN_LIFECYCLE_H

#include <stddef.h>

#include "db.h"
#include "onboard.h"
#include "tenant.h"

typedef enum { TN_LIFE_SUSPEND, TN_LIFE_RESUME, TN_LIFE_DELETE } tn_life_change;

/*
 * Changes a tenant's status: suspend (active only), resume (suspended
 * only), delete (any but deleted; the schema stays). Returns OK with the
 * tenant in t, NOT_FOUND, TAKEN when the tenant is in the wrong status
 * for the change (detail in err), or a database failure.
 */
tn_onboard_status tn_lifecycle_change(tn_db *db, const char *subdomain,
    tn_life_change change, tn_tenant *t, char *err, size_t errlen);

/*
 * Drops a deleted tenant's schema and role and forgets it. Refused (TAKEN)
 * unless the tenant was deleted first.
 */
tn_onboard_status tn_lifecycle_purge(
    tn_db *db, const char *subdomain, char *err, size_t errlen);

#endif
