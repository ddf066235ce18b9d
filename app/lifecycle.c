/* A tenant's life after onboarding: suspend, resume, delete, purge. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "lifecycle.h"
#include "log.h"
#include "migrate.h"

tn_onboard_status
tn_lifecycle_change(tn_db *db, const char *subdomain, tn_life_change change,
    tn_tenant *t, char *err, size_t errlen)
{
	static const char *const to[] = {"suspended", "active", "deleted"};
	static const char *const from[] = {
	    "{active}", "{suspended}", "{provisioning,active,suspended}"};
	const char *params[3] = {subdomain, to[change], from[change]};
	tn_onboard_status os;
	tn_db_status st;
	PGresult *r;
	int changed;

	r = tn_db_query(db,
	    "UPDATE public.tenants AS t SET status = $2, updated_at = now()"
	    " WHERE t.subdomain = $1 AND t.status = ANY ($3::text[])"
	    " RETURNING " TN_TENANT_COLUMNS,
	    3, params, &st);
	if (r == NULL) {
		snprintf(err, errlen, "changing the status: %s", db->error);
		return st == TN_DB_DOWN ? TN_ONBOARD_DB_DOWN
		                        : TN_ONBOARD_FAILED;
	}
	changed = PQntuples(r) == 1;
	if (changed) {
		tn_tenant_from_row(t, r, 0);
	}
	PQclear(r);

	if (changed) {
		tn_log(TN_LOG_NOTICE, "tenant %s is now %s", subdomain,
		    to[change]);
		return TN_ONBOARD_OK;
	}

	/* nothing changed: no such tenant, or not in a status to change */
	os = tn_onboard_load(db, subdomain, t, err, errlen);
	if (os == TN_ONBOARD_OK) {
		snprintf(err, errlen, "the tenant is %s and cannot become %s",
		    t->status, to[change]);
		return TN_ONBOARD_TAKEN;
	}
	return os;
}

/* How long a purge waits for a migration running on the schema. */
#define TN_PURGE_LOCK_TRIES   100
#define TN_PURGE_LOCK_POLL_NS (50 * 1000 * 1000)

/*
 * Begins the purge's transaction holding the schema's migration lock, so
 * that no migrator is halfway through the schema when it goes. The lock is
 * tried rather than waited for in the server, as migrators do. Returns
 * TN_ONBOARD_TAKEN when a migration keeps it for too long.
 */
static tn_onboard_status
begin_purge(tn_db *db, const char *schema, char *err, size_t errlen)
{
	const struct timespec pause = {0, TN_PURGE_LOCK_POLL_NS};
	const char *params[1] = {schema};
	tn_db_status st;
	PGresult *r;
	int tries, got;

	for (tries = 0; tries < TN_PURGE_LOCK_TRIES; tries++) {
		st = tn_db_begin(db);
		r = st == TN_DB_OK
		    ? tn_db_exec(db,
		          "SELECT pg_try_advisory_xact_lock(" TN_MIGRATE_LOCK_KEY
		          ")",
		          1, params, 0, &st)
		    : NULL;
		if (r == NULL) {
			snprintf(err, errlen, "purging: %s", db->error);
			tn_db_rollback(db);
			return st == TN_DB_DOWN ? TN_ONBOARD_DB_DOWN
			                        : TN_ONBOARD_FAILED;
		}
		got = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (got) {
			return TN_ONBOARD_OK;
		}
		tn_db_rollback(db);
		nanosleep(&pause, NULL);
	}

	snprintf(err, errlen,
	    "a migration is running on schema %s; purge it once that is done",
	    schema);
	return TN_ONBOARD_TAKEN;
}

tn_onboard_status
tn_lifecycle_purge(tn_db *db, const char *subdomain, char *err, size_t errlen)
{
	char sql[1024];
	tn_onboard_status os;
	tn_db_status st;
	tn_tenant t;

	os = tn_onboard_load(db, subdomain, &t, err, errlen);
	if (os != TN_ONBOARD_OK) {
		return os;
	}
	if (strcmp(t.status, "deleted") != 0) {
		snprintf(err, errlen,
		    "the tenant is %s: delete it before purging it", t.status);
		return TN_ONBOARD_TAKEN;
	}

	/* the record first: a DNS failure leaves the tenant to purge later */
	if (tn_dns_delete(t.subdomain, err, errlen) != 0) {
		return TN_ONBOARD_FAILED;
	}

	os = begin_purge(db, t.schema, err, errlen);
	if (os != TN_ONBOARD_OK) {
		return os;
	}

	/*
	 * The schema belongs to the tenant role, whose rights the login role
	 * holds only after SET ROLE; then the role itself can go. Names are
	 * derived ([a-z0-9_]) and quoted all the same.
	 */
	snprintf(sql, sizeof(sql),
	    "DO $tenantry$ BEGIN"
	    "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN"
	    "   SET LOCAL ROLE \"%s\";"
	    "   DROP SCHEMA IF EXISTS \"%s\" CASCADE;"
	    "   SET LOCAL ROLE NONE;"
	    "   DROP ROLE \"%s\";"
	    "  END IF;"
	    " END $tenantry$;"
	    " DELETE FROM public.schema_migrations WHERE schema_name = '%s';"
	    " DELETE FROM public.tenants WHERE id = %s AND status = 'deleted';"
	    " COMMIT",
	    t.role, t.role, t.schema, t.role, t.schema, t.id);

	st = tn_db_script(db, sql);
	if (st != TN_DB_OK) {
		snprintf(err, errlen, "purging: %s", db->error);
		tn_db_script(db, "ROLLBACK");
		return st == TN_DB_DOWN ? TN_ONBOARD_DB_DOWN
		                        : TN_ONBOARD_FAILED;
	}

	tn_log(TN_LOG_NOTICE, "tenant %s purged: schema and role dropped",
	    subdomain);
	return TN_ONBOARD_OK;
}
