/* Onboarding steps: reserve, role, schema, first user, activate. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <sodium.h>

#include "dns.h"
#include "log.h"
#include "migrate.h"
#include "pipeline.h"
#include "onboard.h"
#include "valid.h"

#define NAME_MAX_LEN     200
#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024

static tn_onboard_status
failed(tn_db *db, tn_db_status st, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what,
	    st == TN_DB_DOWN ? "database unavailable" : db->error);
	return st == TN_DB_DOWN ? TN_ONBOARD_DB_DOWN : TN_ONBOARD_FAILED;
}

/*
 * Records a step as running, done or failed (with its error). Starting a
 * step counts an attempt. A failure to record is only logged.
 */
static void
record_step(tn_db *db, const tn_tenant *t, const char *step, const char *status,
    const char *error)
{
	const char *params[4] = {t->id, step, status, error};
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(db,
	    "INSERT INTO public.onboarding_steps"
	    " (tenant_id, step, status, attempts, last_error, updated_at)"
	    " VALUES ($1, $2, $3, 1, $4, now())"
	    " ON CONFLICT (tenant_id, step) DO UPDATE SET status = $3,"
	    " attempts = onboarding_steps.attempts"
	    "  + CASE WHEN $3 = 'running' THEN 1 ELSE 0 END,"
	    " last_error = $4, updated_at = now()",
	    4, params, &st);
	if (r == NULL) {
		tn_log(TN_LOG_ERROR, "cannot record step %s of tenant %s: %s",
		    step, t->subdomain, db->error);
	}
	PQclear(r);
}

json_object *
tn_onboard_parse(json_object *body, tn_new_tenant *nt)
{
	json_object *owner = NULL;
	tn_valid v = {0};
	const char *problem;

	memset(nt, 0, sizeof(*nt));

	if (tn_valid_string(&v, body, "subdomain", 1, 0, 0, 256, 1,
	        &nt->subdomain) == TN_FIELD_SET) {
		problem = tn_tenant_label_problem(nt->subdomain);
		if (problem != NULL) {
			tn_valid_error(&v, "subdomain", problem);
		}
	}
	tn_valid_string(&v, body, "name", 1, 0, 1, NAME_MAX_LEN, 1, &nt->name);

	if (!json_object_object_get_ex(body, "owner", &owner) ||
	    !json_object_is_type(owner, json_type_object)) {
		tn_valid_error(&v, "owner",
		    "is required and must be an object with email and password");
		return v.errors;
	}

	tn_valid_email(&v, owner, "owner.email", 1, &nt->owner_email);
	tn_valid_string(&v, owner, "owner.password", 1, 0, PASSWORD_MIN_LEN,
	    PASSWORD_MAX_LEN, 0, &nt->owner_password);
	if (tn_valid_string(&v, owner, "owner.name", 0, 1, 0, NAME_MAX_LEN, 1,
	        &nt->owner_name) != TN_FIELD_SET) {
		nt->owner_name = "";
	}

	return v.errors;
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

/*
 * Reserves the name: the tenant row in "provisioning" and its first user,
 * password already hashed, in one transaction.
 */
static tn_onboard_status
step_reserve(
    tn_db *db, const tn_new_tenant *nt, tn_tenant *t, char *err, size_t errlen)
{
	char schema[TN_LABEL_MAX + 1], hash[crypto_pwhash_STRBYTES];
	const char *params[6];
	tn_db_status st;
	PGresult *r;
	int taken;

	if (crypto_pwhash_str(hash, nt->owner_password,
	        strlen(nt->owner_password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		snprintf(
		    err, errlen, "hashing the owner's password: out of memory");
		return TN_ONBOARD_FAILED;
	}

	tn_tenant_schema_name(nt->subdomain, schema);
	params[0] = nt->subdomain;
	params[1] = nt->name;
	params[2] = schema;
	params[3] = nt->owner_email;
	params[4] = nt->owner_name;
	params[5] = hash;

	r = tn_db_query(db,
	    "WITH t AS (INSERT INTO public.tenants AS t"
	    "  (subdomain, name, status, schema_name, role_name)"
	    "  VALUES ($1, $2, 'provisioning', $3, $3)"
	    "  ON CONFLICT DO NOTHING RETURNING *),"
	    " o AS (INSERT INTO public.onboarding_owners"
	    "  (tenant_id, email, display_name, password_hash)"
	    "  SELECT id, $4, $5, $6 FROM t)"
	    " SELECT " TN_TENANT_COLUMNS " FROM t",
	    6, params, &st);
	sodium_memzero(hash, sizeof(hash));
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

	record_step(db, t, "reserve", "done", NULL);
	return TN_ONBOARD_OK;
}

/*
 * The tenant's role: no login, and the app's login role a member of it
 * (the login role is NOINHERIT, so membership grants nothing until SET
 * ROLE). Role names are derived, [a-z0-9_], and quoted all the same.
 */
void
tn_onboard_role_sql(const char *role, char *sql, size_t len)
{
	snprintf(sql, len,
	    "DO $tenantry$ BEGIN"
	    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN"
	    "  CREATE ROLE \"%s\" NOLOGIN NOINHERIT;"
	    " END IF;"
	    " IF NOT pg_has_role(current_user, '%s', 'MEMBER') THEN"
	    "  GRANT \"%s\" TO CURRENT_USER;"
	    " END IF;"
	    " END $tenantry$",
	    role, role, role, role);
}

static tn_onboard_status
step_role(tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	char sql[1024];
	tn_db_status st;

	(void)db_dir;
	tn_onboard_role_sql(t->role, sql, sizeof(sql));
	st = tn_db_script(db, sql);
	if (st != TN_DB_OK) {
		return failed(db, st, "creating the tenant role", err, errlen);
	}
	return TN_ONBOARD_OK;
}

static tn_onboard_status
step_schema(
    tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
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
		return failed(
		    db, st, "creating the tenant schema", err, errlen);
	}

	snprintf(sql, sizeof(sql), "%s/tenant", db_dir);
	if (tn_migrate_load(sql, &set, err, errlen) != 0) {
		return TN_ONBOARD_FAILED;
	}

	/* the tenant's row gets its schema version with each file */
	ms = tn_migrate_schema(
	    db, &set, t->schema, t->role, 0, NULL, &applied, err, errlen);
	tn_migrate_free(&set);

	if (ms == TN_MIGRATE_DB_DOWN) {
		return TN_ONBOARD_DB_DOWN;
	}
	return ms == TN_MIGRATE_OK ? TN_ONBOARD_OK : TN_ONBOARD_FAILED;
}

/*
 * Stores the first user, kept in the control plane since the name was
 * reserved, inside the tenant's scope, unless already there.
 */
static tn_onboard_status
step_first_user(
    tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	const char *params[4] = {t->id, NULL, NULL, NULL};
	tn_db_status st;
	PGresult *owner, *r = NULL;

	(void)db_dir;
	owner = tn_db_query(db,
	    "SELECT email, display_name, password_hash"
	    " FROM public.onboarding_owners WHERE tenant_id = $1",
	    1, params, &st);
	if (owner == NULL) {
		return failed(db, st, "reading the first user", err, errlen);
	}
	if (PQntuples(owner) == 0) {
		/* stored and handed over by an earlier attempt */
		PQclear(owner);
		return TN_ONBOARD_OK;
	}

	params[0] = PQgetvalue(owner, 0, 0);
	params[1] = PQgetvalue(owner, 0, 1);
	params[2] = PQgetvalue(owner, 0, 2);

	st = tn_db_begin_scoped(db, t->schema, t->role);
	if (st == TN_DB_OK) {
		r = tn_db_exec(db,
		    "INSERT INTO users (email, display_name, password_hash, role)"
		    " VALUES ($1, $2, $3, 'owner') ON CONFLICT DO NOTHING",
		    3, params, 1, &st);
	}
	PQclear(r);
	PQclear(owner);

	if (st != TN_DB_OK) {
		tn_db_rollback(db);
		return failed(db, st, "storing the first user", err, errlen);
	}
	return TN_ONBOARD_OK;
}

static tn_onboard_status
step_activate(
    tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	const char *params[1] = {t->id};
	tn_db_status st;
	PGresult *r;

	(void)db_dir;
	r = tn_db_query(db,
	    "WITH o AS (DELETE FROM public.onboarding_owners"
	    "  WHERE tenant_id = $1)"
	    " UPDATE public.tenants AS t SET status = 'active',"
	    " updated_at = now() WHERE t.id = $1 AND t.status = 'provisioning'"
	    " RETURNING " TN_TENANT_COLUMNS,
	    1, params, &st);
	if (r == NULL) {
		return failed(db, st, "activating the tenant", err, errlen);
	}

	/* deleted (or purged) while it was being set up: it stays so */
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen,
		    "the tenant was deleted while it was being set up");
		return TN_ONBOARD_FAILED;
	}
	tn_tenant_from_row(t, r, 0);
	PQclear(r);
	return TN_ONBOARD_OK;
}

/* The tenant's DNS record, when a provider is configured (idempotent). */
static tn_onboard_status
step_dns(tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	(void)db;
	(void)db_dir;
	return tn_dns_upsert(t->subdomain, err, errlen) == 0
	    ? TN_ONBOARD_OK
	    : TN_ONBOARD_FAILED;
}

/*
 * With TENANTRY_PIPELINE_ON_ONBOARD set, the deploy pipeline is started
 * with the new subdomain as its input (and the ref that setting names,
 * "main" when it is just "1"). A dispatch that fails is retried with the
 * step.
 */
static tn_onboard_status
step_pipeline(
    tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	const char *on = getenv("TENANTRY_PIPELINE_ON_ONBOARD");
	json_object *inputs;
	tn_pipeline_status ps;
	int status;

	(void)db;
	(void)db_dir;
	if (on == NULL || *on == '\0' || strcmp(on, "0") == 0) {
		return TN_ONBOARD_OK;
	}

	inputs = json_object_new_object();
	json_object_object_add(
	    inputs, "tenant", json_object_new_string(t->subdomain));
	ps = tn_pipeline_dispatch("deploy", strcmp(on, "1") == 0 ? "main" : on,
	    inputs, &status, err, errlen);
	json_object_put(inputs);

	return ps == TN_PIPELINE_OK ? TN_ONBOARD_OK : TN_ONBOARD_FAILED;
}

typedef struct {
	const char *name;
	tn_onboard_status (*run)(
	    tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t);
} step;

/* The steps after the name is reserved, in order; each is idempotent. */
static const step steps[] = {
    {"role", step_role},
    {"schema", step_schema},
    {"first_user", step_first_user},
    {"dns", step_dns},
    {"pipeline", step_pipeline},
    {"activate", step_activate},
};

/* Is step recorded as done for the tenant? -1 on a database failure. */
static int
step_done(tn_db *db, const tn_tenant *t, const char *name)
{
	const char *params[2] = {t->id, name};
	tn_db_status st;
	PGresult *r;
	int done;

	r = tn_db_query(db,
	    "SELECT 1 FROM public.onboarding_steps"
	    " WHERE tenant_id = $1 AND step = $2 AND status = 'done'",
	    2, params, &st);
	if (r == NULL) {
		return -1;
	}
	done = PQntuples(r) == 1;
	PQclear(r);
	return done;
}

/*
 * Fault injection for the tests of resumed onboarding:
 * TENANTRY_ONBOARD_FAULT=STEP:fail makes STEP fail, STEP:kill kills the
 * process right after STEP did its work. Unset in normal operation.
 */
static int
fault_at(const char *name, const char *what)
{
	const char *fault = getenv("TENANTRY_ONBOARD_FAULT");
	size_t n = strlen(name);

	return fault != NULL && strncmp(fault, name, n) == 0 &&
	    fault[n] == ':' && strcmp(fault + n + 1, what) == 0;
}

/* Runs one step, recorded as it starts and as it ends. */
static tn_onboard_status
run_one(tn_db *db, const char *db_dir, tn_tenant *t, const step *one, char *err,
    size_t errlen)
{
	tn_onboard_status os;

	record_step(db, t, one->name, "running", NULL);
	if (fault_at(one->name, "fail")) {
		snprintf(err, errlen, "fault injected at step %s", one->name);
		os = TN_ONBOARD_FAILED;
	} else {
		os = one->run(db, db_dir, t, err, errlen);
	}
	if (fault_at(one->name, "kill")) {
		/* dies after the step's work, before it is recorded */
		raise(SIGKILL);
	}
	record_step(db, t, one->name, os == TN_ONBOARD_OK ? "done" : "failed",
	    os == TN_ONBOARD_OK ? NULL : err);

	if (os != TN_ONBOARD_OK) {
		tn_log(TN_LOG_ERROR,
		    "onboarding of tenant %s stopped at step %s: %s",
		    t->subdomain, one->name, err);
	}
	return os;
}

/*
 * Runs every step not yet done, recording each as it starts and ends,
 * and stops at the first that fails: the tenant then stays in
 * "provisioning" with the error on record, and a retry resumes there.
 */
static tn_onboard_status
run_steps(tn_db *db, const char *db_dir, tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os = TN_ONBOARD_OK;
	size_t i;
	int done;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		done = step_done(db, t, steps[i].name);
		if (done < 0) {
			return failed(
			    db, TN_DB_DOWN, "reading the steps", err, errlen);
		}
		if (done) {
			continue;
		}

		os = run_one(db, db_dir, t, &steps[i], err, errlen);
		if (os != TN_ONBOARD_OK) {
			return os;
		}
	}
	return os;
}

tn_onboard_status
tn_onboard_register(tn_db *db, const char *db_dir, const tn_new_tenant *nt,
    tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os;

	os = step_reserve(db, nt, t, err, errlen);
	if (os != TN_ONBOARD_OK) {
		return os;
	}
	return run_steps(db, db_dir, t, err, errlen);
}

tn_onboard_status
tn_onboard_retry(tn_db *db, const char *db_dir, const char *subdomain,
    tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os;

	os = tn_onboard_load(db, subdomain, t, err, errlen);
	if (os != TN_ONBOARD_OK) {
		return os;
	}
	if (strcmp(t->status, "provisioning") != 0) {
		snprintf(err, errlen,
		    "the tenant is %s: only a tenant in provisioning is retried",
		    t->status);
		return TN_ONBOARD_TAKEN;
	}
	return run_steps(db, db_dir, t, err, errlen);
}

tn_onboard_status
tn_onboard_schema(tn_db *db, const char *db_dir, const char *subdomain,
    tn_tenant *t, char *err, size_t errlen)
{
	tn_onboard_status os;

	/* steps[0] and [1]: the role, then the schema and its migrations */
	os = tn_onboard_load(db, subdomain, t, err, errlen);
	if (os == TN_ONBOARD_OK) {
		os = run_one(db, db_dir, t, &steps[0], err, errlen);
	}
	if (os == TN_ONBOARD_OK) {
		os = run_one(db, db_dir, t, &steps[1], err, errlen);
	}
	return os;
}
