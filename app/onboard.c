/* Onboarding steps: reserve, role, schema, first user, activate. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "migrate.h"
#include "onboard.h"

static tn_onboard_status
failed(tn_db *db, tn_db_status st, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what,
	    st == TN_DB_DOWN ? "database unavailable" : db->error);
	return st == TN_DB_DOWN ? TN_ONBOARD_DB_DOWN : TN_ONBOARD_FAILED;
}

/* Records the outcome of a step; a failure to record is only logged. */
static void
record_step(tn_db *db, const tn_tenant *t, const char *step, const char *error)
{
	const char *params[4] = {t->id, step, error ? "failed" : "done", error};
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(db,
	    "INSERT INTO public.onboarding_steps"
	    " (tenant_id, step, status, attempts, last_error, updated_at)"
	    " VALUES ($1, $2, $3, 1, $4, now())"
	    " ON CONFLICT (tenant_id, step) DO UPDATE SET status = $3,"
	    " attempts = onboarding_steps.attempts + 1, last_error = $4,"
	    " updated_at = now()",
	    4, params, &st);
	if (r == NULL) {
		tn_log(TN_LOG_ERROR, "cannot record step %s of tenant %s: %s",
		    step, t->subdomain, db->error);
	}
	PQclear(r);
}

tn_onboard_status
tn_onboard_load(
    tn_db *db, const char *subdomain, tn_tenant *t, char *err, size_t errlen)
{
	const char *params[1] = {subdomain};
	tn_db_status st;
	PGresult *r;
	int found;

	r = tn_db_query(db,
	    "SELECT " TN_TENANT_COLUMNS " FROM public.tenants t"
	    " WHERE t.subdomain = $1",
	    1, params, &st);
	if (r == NULL) {
		return failed(db, st, "loading the tenant", err, errlen);
	}

	found = PQntuples(r) == 1;
	if (found) {
		tn_tenant_from_row(t, r, 0);
	}
	PQclear(r);
	return found ? TN_ONBOARD_OK : TN_ONBOARD_NOT_FOUND;
}

static tn_onboard_status
step_reserve(
    tn_db *db, const tn_new_tenant *nt, tn_tenant *t, char *err, size_t errlen)
{
	char schema[TN_LABEL_MAX + 1];
	const char *params[3];
	tn_db_status st;
	PGresult *r;
	int taken;

	tn_tenant_schema_name(nt->subdomain, schema);
	params[0] = nt->subdomain;
	params[1] = nt->name;
	params[2] = schema;

	r = tn_db_query(db,
	    "INSERT INTO public.tenants AS t"
	    " (subdomain, name, status, schema_name, role_name)"
	    " VALUES ($1, $2, 'provisioning', $3, $3)"
	    " ON CONFLICT DO NOTHING RETURNING " TN_TENANT_COLUMNS,
	    3, params, &st);
	if (r == NULL) {
		return failed(db, st, "reserving the subdomain", err, errlen);
	}

	taken = PQntuples(r) != 1;
	if (!taken) {
		tn_tenant_from_row(t, r, 0);
	}
	PQclear(r);

	if (taken) {
		snprintf(err, errlen, "the subdomain \"%s\" is taken",
		    nt->subdomain);
		return TN_ONBOARD_TAKEN;
	}

	record_step(db, t, "reserve", NULL);
	return TN_ONBOARD_OK;
}

/*
 * The tenant's role: no login, and the app's login role a member of it
 * (the login role is NOINHERIT, so membership grants nothing until SET
 * ROLE). Role names are derived, [a-z0-9_], and quoted all the same.
 */
static tn_onboard_status
step_role(tn_db *db, const tn_tenant *t, char *err, size_t errlen)
{
	char sql[1024];
	tn_db_status st;

	snprintf(sql, sizeof(sql),
	    "DO $tenantry$ BEGIN"
	    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN"
	    "  CREATE ROLE \"%s\" NOLOGIN NOINHERIT;"
	    " END IF;"
	    " IF NOT pg_has_role(current_user, '%s', 'MEMBER') THEN"
	    "  GRANT \"%s\" TO CURRENT_USER;"
	    " END IF;"
	    " END $tenantry$",
	    t->role, t->role, t->role, t->role);

	st = tn_db_script(db, sql);
	record_step(db, t, "role", st == TN_DB_OK ? NULL : db->error);
	if (st != TN_DB_OK) {
		return failed(db, st, "creating the tenant role", err, errlen);
	}
	return TN_ONBOARD_OK;
}

static tn_onboard_status
step_schema(
    tn_db *db, const char *db_dir, const tn_tenant *t, char *err, size_t errlen)
{
	tn_migration_set set;
	tn_migrate_status ms;
	tn_db_status st;
	char sql[256];
	int applied;

	snprintf(sql, sizeof(sql),
	    "CREATE SCHEMA IF NOT EXISTS \"%s\" AUTHORIZATION \"%s\"",
	    t->schema, t->role);
	st = tn_db_script(db, sql);
	if (st != TN_DB_OK) {
		record_step(db, t, "schema", db->error);
		return failed(
		    db, st, "creating the tenant schema", err, errlen);
	}

	snprintf(sql, sizeof(sql), "%s/tenant", db_dir);
	if (tn_migrate_load(sql, &set, err, errlen) != 0) {
		record_step(db, t, "schema", err);
		return TN_ONBOARD_FAILED;
	}

	ms = tn_migrate_schema(
	    db, &set, t->schema, t->role, &applied, err, errlen);
	tn_migrate_free(&set);
	record_step(db, t, "schema", ms == TN_MIGRATE_OK ? NULL : err);

	if (ms == TN_MIGRATE_DB_DOWN) {
		return TN_ONBOARD_DB_DOWN;
	}
	return ms == TN_MIGRATE_OK ? TN_ONBOARD_OK : TN_ONBOARD_FAILED;
}

/* Stores the owner, inside the tenant's scope, unless already there. */
static tn_onboard_status
step_first_user(tn_db *db, const tn_new_tenant *nt, const tn_tenant *t,
    char *err, size_t errlen)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *params[3];
	tn_db_status st;
	PGresult *r;

	if (crypto_pwhash_str(hash, nt->owner_password,
	        strlen(nt->owner_password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		snprintf(
		    err, errlen, "hashing the owner's password: out of memory");
		record_step(db, t, "first_user", err);
		return TN_ONBOARD_FAILED;
	}

	params[0] = nt->owner_email;
	params[1] = nt->owner_name;
	params[2] = hash;

	st = tn_db_begin_scoped(db, t->schema, t->role);
	r = NULL;
	if (st == TN_DB_OK) {
		r = tn_db_exec(db,
		    "INSERT INTO users (email, display_name, password_hash, role)"
		    " VALUES ($1, $2, $3, 'owner') ON CONFLICT DO NOTHING",
		    3, params, 1, &st);
	}
	sodium_memzero(hash, sizeof(hash));
	PQclear(r);

	if (st != TN_DB_OK) {
		tn_db_rollback(db);
		record_step(db, t, "first_user", db->error);
		return failed(db, st, "storing the first user", err, errlen);
	}

	record_step(db, t, "first_user", NULL);
	return TN_ONBOARD_OK;
}

static tn_onboard_status
step_activate(tn_db *db, tn_tenant *t, char *err, size_t errlen)
{
	const char *params[1] = {t->id};
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(db,
	    "UPDATE public.tenants AS t SET status = 'active',"
	    " updated_at = now() WHERE t.id = $1 RETURNING " TN_TENANT_COLUMNS,
	    1, params, &st);
	if (r == NULL) {
		record_step(db, t, "activate", db->error);
		return failed(db, st, "activating the tenant", err, errlen);
	}

	if (PQntuples(r) == 1) {
		tn_tenant_from_row(t, r, 0);
	}
	PQclear(r);

	record_step(db, t, "activate", NULL);
	return TN_ONBOARD_OK;
}

tn_onboard_status
tn_onboard_register(tn_db *db, const char *db_dir, const tn_new_tenant *nt,
    tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os;

	os = step_reserve(db, nt, t, err, errlen);
	if (os == TN_ONBOARD_OK) {
		os = step_role(db, t, err, errlen);
	}
	if (os == TN_ONBOARD_OK) {
		os = step_schema(db, db_dir, t, err, errlen);
	}
	if (os == TN_ONBOARD_OK) {
		os = step_first_user(db, nt, t, err, errlen);
	}
	if (os == TN_ONBOARD_OK) {
		os = step_activate(db, t, err, errlen);
	}

	if (os != TN_ONBOARD_OK && os != TN_ONBOARD_TAKEN) {
		tn_log(TN_LOG_ERROR, "onboarding of tenant %s stopped: %s",
		    nt->subdomain, err);
	}
	return os;
}

tn_onboard_status
tn_onboard_schema(tn_db *db, const char *db_dir, const char *subdomain,
    tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os;

	os = tn_onboard_load(db, subdomain, t, err, errlen);
	if (os == TN_ONBOARD_OK) {
		os = step_role(db, t, err, errlen);
	}
	if (os == TN_ONBOARD_OK) {
		os = step_schema(db, db_dir, t, err, errlen);
	}
	return os;
}
