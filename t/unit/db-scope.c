/*
 * Scoped transactions against a real database (TENANTRY_DATABASE_URL and
 * TEST_SCHEMA/TEST_ROLE of an existing tenant): the scope applies inside
 * the transaction only, and the session is back to its defaults after.
 */
#include "config.h"

#include <stdlib.h>

#include "db.h"
#include "tap.h"

static char *
value(tn_db *db, const char *sql, tn_db_status *st)
{
	static char out[256];
	PGresult *r;

	r = tn_db_query(db, sql, 0, NULL, st);
	if (r == NULL) {
		return NULL;
	}
	snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/* Counts the lines of a libpq protocol trace that contain word. */
static int
count_in_trace(FILE *trace, const char *word)
{
	char line[1024];
	int n = 0;

	rewind(trace);
	while (fgets(line, sizeof(line), trace) != NULL) {
		if (strstr(line, word) != NULL) {
			n++;
		}
	}
	return n;
}

/*
 * BEGIN, the scope, the query and COMMIT go out together: one Sync, one
 * ReadyForQuery, so scoping costs no round trip of its own.
 */
static void
test_one_round_trip(tn_db *db, const char *schema, const char *role)
{
	tn_db_status st;
	PGresult *r;
	FILE *trace;

	trace = tmpfile();
	PQtrace(db->conn, trace);

	st = tn_db_begin_scoped(db, schema, role);
	r = tn_db_exec(db, "SELECT count(*) FROM users", 0, NULL, 1, &st);
	ok(r != NULL && st == TN_DB_OK, "scoped read with commit succeeds");
	PQclear(r);

	PQuntrace(db->conn);
	fflush(trace);
	ok(count_in_trace(trace, "\tSync") == 1,
	    "one Sync is sent for the whole transaction (%d)",
	    count_in_trace(trace, "\tSync"));
	ok(count_in_trace(trace, "\tReadyForQuery") == 1,
	    "one ReadyForQuery comes back (%d)",
	    count_in_trace(trace, "\tReadyForQuery"));
	ok(count_in_trace(trace, "\tParse\t") == 4,
	    "BEGIN, scope, query and COMMIT travel together (%d)",
	    count_in_trace(trace, "\tParse\t"));
	fclose(trace);
}

/*
 * A read alone: scope and statement in one implicit transaction, two
 * statements and one sync; the session is back to its defaults after.
 */
static void
test_implicit_read(tn_db *db, const char *schema, const char *role,
    const char *login, const char *path)
{
	tn_db_status st;
	PGresult *r;
	FILE *trace;

	trace = tmpfile();
	PQtrace(db->conn, trace);
	r = tn_db_read_scoped(db, schema, role,
	    "SELECT current_user, current_schema()", 0, NULL, &st);
	PQuntrace(db->conn);
	fflush(trace);

	ok(r != NULL, "a scoped read runs");
	if (r != NULL) {
		is_str(PQgetvalue(r, 0, 0), role,
		    "the read runs as the tenant role");
		is_str(PQgetvalue(r, 0, 1), schema, "in the tenant schema");
		PQclear(r);
	}
	ok(count_in_trace(trace, "\tParse\t") == 2,
	    "the read is the scope and the statement alone (%d)",
	    count_in_trace(trace, "\tParse\t"));
	ok(count_in_trace(trace, "\tSync") == 1, "with one sync");
	fclose(trace);

	is_str(value(db, "SELECT current_user", &st), login,
	    "after the read the role is the login role again");
	is_str(value(db, "SELECT current_setting('search_path')", &st), path,
	    "after the read the search_path is the default again");

	r = tn_db_read_scoped(
	    db, schema, role, "SELECT * FROM public.tenants", 0, NULL, &st);
	ok(r == NULL && st == TN_DB_ERROR, "a refused read fails (%s)",
	    db->sqlstate);
	is_str(value(db, "SELECT current_user", &st), login,
	    "and leaves the login role too");
}

int
main(void)
{
	const char *url = getenv("TENANTRY_DATABASE_URL");
	const char *schema = getenv("TEST_SCHEMA");
	const char *role = getenv("TEST_ROLE");
	char login[64], path[256], *v;
	tn_db_status st;
	PGresult *r;
	tn_db db;

	if (url == NULL || schema == NULL || role == NULL) {
		printf(
		    "1..0 # SKIP needs TENANTRY_DATABASE_URL, TEST_SCHEMA, TEST_ROLE\n");
		return 0;
	}

	tn_db_init(&db, url, 1000);
	ok(tn_db_ensure(&db) == TN_DB_OK, "connects");

	v = value(&db, "SELECT current_user", &st);
	snprintf(login, sizeof(login), "%s", v ? v : "");
	v = value(&db, "SELECT current_setting('search_path')", &st);
	snprintf(path, sizeof(path), "%s", v ? v : "");

	st = tn_db_begin_scoped(&db, schema, role);
	r = tn_db_exec(&db,
	    "SELECT current_user, current_schema(),"
	    " current_setting('statement_timeout')",
	    0, NULL, 0, &st);
	ok(r != NULL, "scoped query runs");
	if (r != NULL) {
		is_str(PQgetvalue(r, 0, 0), role, "runs as the tenant role");
		is_str(PQgetvalue(r, 0, 1), schema, "in the tenant schema");
		is_str(PQgetvalue(r, 0, 2), "1s", "with the statement timeout");
		PQclear(r);
	}
	ok(tn_db_commit(&db) == TN_DB_OK, "commits");

	is_str(value(&db, "SELECT current_user", &st), login,
	    "after commit the role is the login role again");
	is_str(value(&db, "SELECT current_setting('search_path')", &st), path,
	    "after commit the search_path is the default again");

	/* a failed statement inside the scope leaves nothing behind either */
	st = tn_db_begin_scoped(&db, schema, role);
	r = tn_db_exec(&db, "SELECT * FROM public.tenants", 0, NULL, 1, &st);
	ok(r == NULL && st == TN_DB_ERROR && strcmp(db.sqlstate, "42501") == 0,
	    "the tenant role cannot read the control plane (%s)", db.sqlstate);
	tn_db_rollback(&db);
	is_str(value(&db, "SELECT current_user", &st), login,
	    "after a failure the role is the login role again");
	is_str(value(&db, "SELECT current_setting('search_path')", &st), path,
	    "after a failure the search_path is the default again");

	/* a statement over the timeout is cancelled, the session carries on */
	st = tn_db_begin_scoped(&db, schema, role);
	r = tn_db_exec(&db, "SELECT pg_sleep(3)", 0, NULL, 1, &st);
	ok(r == NULL && strcmp(db.sqlstate, "57014") == 0,
	    "a statement over the timeout is cancelled (%s)", db.sqlstate);
	tn_db_rollback(&db);
	is_str(value(&db, "SELECT 'alive'", &st), "alive",
	    "the connection is usable after a cancelled statement");

	test_one_round_trip(&db, schema, role);
	test_implicit_read(&db, schema, role, login, path);

	tn_db_close(&db);
	return done_testing();
}
