/* The worker's libpq connection, pipelined scoped transactions. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

/* A failed connection attempt is not repeated sooner than this. */
#define TN_DB_RETRY_MS 200

static const char scope_sql[] = "SELECT set_config('search_path', $1, true),"
                                " set_config('role', $2, true),"
                                " set_config('statement_timeout', $3, true)";
static const char timeout_sql[] =
    "SELECT set_config('statement_timeout', $1, true)";

long long
tn_db_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
tn_db_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void
tn_db_init(tn_db *db, const char *conninfo, int statement_timeout)
{
	memset(db, 0, sizeof(*db));
	db->conninfo = conninfo;
	db->statement_timeout = statement_timeout;
	snprintf(db->timeout_text, sizeof(db->timeout_text), "%d",
	    statement_timeout);
	db->last_attempt_ms = -TN_DB_RETRY_MS;
}

void
tn_db_close(tn_db *db)
{
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	db->queued = 0;
	db->schema_count = 0;
}

void
tn_db_limit_schemas(tn_db *db, int max_schemas)
{
	free(db->schemas);
	db->schemas = NULL;
	db->schema_count = 0;
	db->max_schemas = 0;
	if (max_schemas > 0) {
		db->schemas = calloc((size_t)max_schemas, sizeof(*db->schemas));
		db->max_schemas = db->schemas != NULL ? max_schemas : 0;
	}
}

void
tn_db_free(tn_db *db)
{
	tn_db_close(db);
	tn_db_limit_schemas(db, 0);
}

/* Notes a schema scoped on this connection, once. */
static void
note_schema(tn_db *db, const char *schema)
{
	int i;

	if (db->max_schemas == 0 || db->schema_count >= db->max_schemas) {
		return;
	}
	for (i = 0; i < db->schema_count; i++) {
		if (strcmp(db->schemas[i], schema) == 0) {
			return;
		}
	}
	snprintf(db->schemas[db->schema_count++], sizeof(db->schemas[0]), "%s",
	    schema);
}

int
tn_db_wants_recycle(const tn_db *db)
{
	return db->max_schemas > 0 && db->conn != NULL &&
	    db->schema_count >= db->max_schemas;
}

tn_db_status
tn_db_recycle(tn_db *db)
{
	tn_log(TN_LOG_NOTICE,
	    "recycling the database connection after %d tenants",
	    db->schema_count);
	tn_db_close(db);
	db->last_attempt_ms = tn_db_now_ms() - TN_DB_RETRY_MS;
	return tn_db_ensure(db);
}

static void
set_error(tn_db *db, const char *sqlstate, const char *msg)
{
	size_t n;

	snprintf(
	    db->sqlstate, sizeof(db->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(db->error, sizeof(db->error), "%s", msg ? msg : "");

	n = strcspn(db->error, "\n");
	db->error[n] = '\0';
}

/* Notes a lost connection; the next request reconnects. */
static tn_db_status
lost(tn_db *db)
{
	set_error(
	    db, "08006", db->conn ? PQerrorMessage(db->conn) : "no connection");
	tn_log(TN_LOG_ERROR, "database connection lost: %s", db->error);
	tn_db_close(db);
	return TN_DB_DOWN;
}

static void
ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

tn_db_status
tn_db_ensure(tn_db *db)
{
	/* later entries win: the connection string overrides the defaults */
	const char *keys[] = {
	    "connect_timeout", "application_name", "dbname", NULL};
	const char *values[] = {"2", "tenantd", db->conninfo, NULL};
	long long now;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK) {
		return TN_DB_OK;
	}
	tn_db_close(db);

	now = tn_db_now_ms();
	if (now - db->last_attempt_ms < TN_DB_RETRY_MS) {
		set_error(db, "08001", "database unavailable");
		return TN_DB_DOWN;
	}
	db->last_attempt_ms = now;

	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		set_error(db, "08001",
		    db->conn ? PQerrorMessage(db->conn) : "out of memory");
		tn_log(TN_LOG_ERROR, "cannot connect to the database: %s",
		    db->error);
		tn_db_close(db);
		return TN_DB_DOWN;
	}

	/* server notices ("already exists, skipping") are not news */
	PQsetNoticeProcessor(db->conn, ignore_notice, NULL);

	tn_log(TN_LOG_NOTICE, "connected to the database as \"%s\"",
	    PQuser(db->conn));
	return TN_DB_OK;
}

static tn_db_status
enter_pipeline(tn_db *db)
{
	if (PQpipelineStatus(db->conn) == PQ_PIPELINE_ON) {
		return TN_DB_OK;
	}
	if (!PQenterPipelineMode(db->conn)) {
		return lost(db);
	}
	return TN_DB_OK;
}

static tn_db_status
queue(tn_db *db, const char *sql, int nparams, const char *const *params)
{
	if (enter_pipeline(db) != TN_DB_OK) {
		return TN_DB_DOWN;
	}
	if (!PQsendQueryParams(
	        db->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		return lost(db);
	}
	db->queued++;
	return TN_DB_OK;
}

tn_db_status
tn_db_queue(tn_db *db, const char *sql, int nparams, const char *const *params)
{
	if (db->conn == NULL) {
		return TN_DB_DOWN;
	}
	return queue(db, sql, nparams, params);
}

/*
 * Sends a sync and reads the results of every queued command. The result
 * of command number want (counted from 0) goes to *wanted when asked for
 * and every command succeeded.
 */
static tn_db_status
collect(tn_db *db, int want, PGresult **wanted)
{
	tn_db_status status = TN_DB_OK;
	ExecStatusType st;
	PGresult *r;
	double start;
	int i, n;

	if (PQpipelineSync(db->conn) != 1) {
		return lost(db);
	}

	start = tn_db_clock_ms();
	n = db->queued;
	db->queued = 0;

	for (i = 0; i < n; i++) {
		r = PQgetResult(db->conn);
		if (r == NULL) {
			return lost(db);
		}

		st = PQresultStatus(r);
		if (st == PGRES_FATAL_ERROR && status == TN_DB_OK) {
			set_error(db, PQresultErrorField(r, PG_DIAG_SQLSTATE),
			    PQresultErrorMessage(r));
			status = TN_DB_ERROR;
		}

		if (wanted != NULL && i == want && status == TN_DB_OK) {
			*wanted = r;
		} else {
			PQclear(r);
		}

		/* each command's results end with a NULL */
		while ((r = PQgetResult(db->conn)) != NULL) {
			PQclear(r);
		}
	}

	r = PQgetResult(db->conn);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	PQclear(r);
	db->wait_ms += tn_db_clock_ms() - start;
	db->round_trips++;

	if (st != PGRES_PIPELINE_SYNC || PQstatus(db->conn) != CONNECTION_OK) {
		if (wanted != NULL && *wanted != NULL) {
			PQclear(*wanted);
			*wanted = NULL;
		}
		return lost(db);
	}

	if (status == TN_DB_ERROR && wanted != NULL && *wanted != NULL) {
		PQclear(*wanted);
		*wanted = NULL;
	}
	return status;
}

static tn_db_status
leave_pipeline(tn_db *db)
{
	if (PQpipelineStatus(db->conn) == PQ_PIPELINE_OFF) {
		return TN_DB_OK;
	}
	if (!PQexitPipelineMode(db->conn)) {
		return lost(db);
	}
	return TN_DB_OK;
}

/*
 * Queues the statement that bounds the statements after it, up to the
 * end of the transaction (an implicit one ends at the sync), by the
 * worker's statement timeout. Nothing is queued without a timeout.
 */
static tn_db_status
queue_timeout(tn_db *db)
{
	char timeout[32];
	const char *params[1] = {timeout};

	if (db->statement_timeout <= 0) {
		return TN_DB_OK;
	}
	snprintf(timeout, sizeof(timeout), "%d", db->statement_timeout);
	return queue(db, timeout_sql, 1, params);
}

static tn_db_status
queue_begin(tn_db *db)
{
	tn_db_status st;

	st = tn_db_ensure(db);
	if (st != TN_DB_OK) {
		return st;
	}

	st = enter_pipeline(db);
	if (st != TN_DB_OK) {
		return st;
	}

	return queue(db, "BEGIN", 0, NULL);
}

tn_db_status
tn_db_begin(tn_db *db)
{
	tn_db_status st;

	st = queue_begin(db);
	if (st != TN_DB_OK) {
		return st;
	}
	return queue_timeout(db);
}

/* Queues the statement that scopes the transaction to a tenant. */
static tn_db_status
queue_scope(tn_db *db, const char *schema, const char *role)
{
	char quoted[80];
	const char *params[3];
	size_t len = strlen(schema);

	/* schema names are [a-z0-9_] by construction; quoted all the same */
	if (len + 3 > sizeof(quoted)) {
		set_error(db, "3F000", "schema name too long");
		return TN_DB_ERROR;
	}
	quoted[0] = '"';
	memcpy(quoted + 1, schema, len);
	quoted[len + 1] = '"';
	quoted[len + 2] = '\0';
	params[0] = quoted;
	params[1] = role;
	params[2] = db->timeout_text;

	note_schema(db, schema);
	return queue(db, scope_sql, 3, params);
}

tn_db_status
tn_db_begin_scoped(tn_db *db, const char *schema, const char *role)
{
	tn_db_status st;

	st = queue_begin(db);
	if (st != TN_DB_OK) {
		return st;
	}
	return queue_scope(db, schema, role);
}

PGresult *
tn_db_read_scoped(tn_db *db, const char *schema, const char *role,
    const char *sql, int nparams, const char *const *params,
    tn_db_status *status)
{
	PGresult *result = NULL;
	tn_db_status st;
	int want;

	st = tn_db_ensure(db);
	if (st == TN_DB_OK) {
		st = queue_scope(db, schema, role);
	}
	if (st == TN_DB_OK) {
		st = queue(db, sql, nparams, params);
	}
	if (st == TN_DB_OK) {
		/* the statements up to the sync are one implicit transaction */
		want = db->queued - 1;
		st = collect(db, want, &result);
	}
	if (st != TN_DB_DOWN && leave_pipeline(db) != TN_DB_OK) {
		PQclear(result);
		result = NULL;
		st = TN_DB_DOWN;
	}

	*status = st;
	return result;
}

PGresult *
tn_db_exec(tn_db *db, const char *sql, int nparams, const char *const *params,
    int commit, tn_db_status *status)
{
	PGresult *result = NULL;
	tn_db_status st;
	int want;

	if (db->conn == NULL) {
		*status = TN_DB_DOWN;
		return NULL;
	}

	st = queue(db, sql, nparams, params);
	want = db->queued - 1;

	/* COMMIT travels in the same round trip as the statement */
	if (st == TN_DB_OK && commit) {
		st = queue(db, "COMMIT", 0, NULL);
	}
	if (st == TN_DB_OK) {
		st = collect(db, want, &result);
	}
	if (st == TN_DB_OK && commit) {
		st = leave_pipeline(db);
	}
	if (st != TN_DB_OK) {
		PQclear(result);
		result = NULL;
	}
	if (st == TN_DB_ERROR && commit) {
		tn_db_rollback(db);
	}

	*status = st;
	return result;
}

tn_db_status
tn_db_commit(tn_db *db)
{
	tn_db_status st;

	if (db->conn == NULL) {
		return TN_DB_DOWN;
	}

	st = queue(db, "COMMIT", 0, NULL);
	if (st == TN_DB_OK) {
		st = collect(db, -1, NULL);
	}
	if (st == TN_DB_OK) {
		st = leave_pipeline(db);
	}
	if (st == TN_DB_ERROR) {
		tn_db_rollback(db);
	}
	return st;
}

void
tn_db_rollback(tn_db *db)
{
	PGresult *r;

	if (db->conn == NULL) {
		return;
	}

	if (db->queued > 0 && collect(db, -1, NULL) == TN_DB_DOWN) {
		return;
	}
	if (leave_pipeline(db) != TN_DB_OK) {
		return;
	}
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
		return;
	}

	r = PQexec(db->conn, "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		lost(db);
		return;
	}
	PQclear(r);
}

PGresult *
tn_db_query(tn_db *db, const char *sql, int nparams, const char *const *params,
    tn_db_status *status)
{
	PGresult *result = NULL;
	tn_db_status st;

	st = tn_db_ensure(db);
	if (st == TN_DB_OK) {
		st = queue_timeout(db);
	}
	if (st == TN_DB_OK) {
		st = queue(db, sql, nparams, params);
	}
	if (st == TN_DB_OK) {
		st = collect(db, db->queued - 1, &result);
	}
	if (st != TN_DB_DOWN && leave_pipeline(db) != TN_DB_OK) {
		PQclear(result);
		result = NULL;
		st = TN_DB_DOWN;
	}

	*status = st;
	return result;
}

tn_db_status
tn_db_script(tn_db *db, const char *sql)
{
	tn_db_status st;
	PGresult *r;

	st = tn_db_ensure(db);
	if (st != TN_DB_OK) {
		return st;
	}

	if (db->queued > 0) {
		tn_log(TN_LOG_ALERT, "script sent with %d commands queued",
		    db->queued);
		return TN_DB_ERROR;
	}
	if (leave_pipeline(db) != TN_DB_OK) {
		return TN_DB_DOWN;
	}

	r = PQexec(db->conn, sql);
	db->round_trips++;
	st = TN_DB_OK;
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		set_error(db, PQresultErrorField(r, PG_DIAG_SQLSTATE),
		    PQresultErrorMessage(r));
		st = PQstatus(db->conn) == CONNECTION_OK ? TN_DB_ERROR
		                                         : TN_DB_DOWN;
	}
	PQclear(r);

	if (st == TN_DB_DOWN) {
		return lost(db);
	}
	return st;
}
