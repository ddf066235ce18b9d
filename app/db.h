/*
 * The worker's one libpq connection: reconnects, and transactions whose
 * tenant scoping travels in the same round trip as their first query.
 */
#ifndef TN_DB_H
#define TN_DB_H

#include <libpq-fe.h>

typedef enum {
	TN_DB_OK = 0,
	TN_DB_DOWN, /* no connection; it is retried on the next request */
	TN_DB_ERROR /* the server refused a statement; see sqlstate/error */
} tn_db_status;

typedef struct {
	PGconn *conn;
	const char *conninfo;
	long long last_attempt_ms; /* last connection attempt, monotonic */
	int queued;                /* pipelined commands not yet read */
	int statement_timeout;     /* ms, set per scoped transaction */
	char timeout_text[16];     /* the same, as the parameter sent */
	double wait_ms;            /* time spent waiting on the server */
	int round_trips;           /* batches sent and waited for */
	int max_schemas;           /* tenants before a recycle; 0: never */
	int schema_count;          /* distinct tenants on this connection */
	char (*schemas)[64];       /* their schema names */
	char sqlstate[6];
	char error[512];
} tn_db;

void tn_db_init(tn_db *db, const char *conninfo, int statement_timeout);

/*
 * Makes sure a connection exists. A failed attempt is not repeated for a
 * short while, so that requests fail fast while the server is away.
 */
tn_db_status tn_db_ensure(tn_db *db);
void tn_db_close(tn_db *db);

/*
 * Counts distinct tenant schemas on the connection: a backend keeps
 * catalog entries for every schema it touched, so a connection is
 * replaced after max_schemas of them (0, the default: never). Allocates
 * the list; tn_db_free releases it.
 */
void tn_db_limit_schemas(tn_db *db, int max_schemas);
void tn_db_free(tn_db *db);

/*
 * Has the connection touched max_schemas tenants? Then the caller, between
 * requests, calls tn_db_recycle, which closes it and connects anew.
 */
int tn_db_wants_recycle(const tn_db *db);
tn_db_status tn_db_recycle(tn_db *db);

/*
 * Starts a transaction scoped to a tenant: BEGIN and a statement that
 * sets search_path, role and statement_timeout transaction-locally are
 * queued and travel with the next tn_db_exec. Nothing session-level is
 * ever set.
 */
tn_db_status tn_db_begin_scoped(
    tn_db *db, const char *schema, const char *role);

/*
 * Runs one read-only statement scoped to a tenant: the scope and the
 * statement travel together as one implicit transaction, which ends at
 * the sync, so neither BEGIN nor COMMIT is needed. Returns the result
 * (the caller PQclear()s it) or NULL with the status in *status.
 */
PGresult *tn_db_read_scoped(tn_db *db, const char *schema, const char *role,
    const char *sql, int nparams, const char *const *params,
    tn_db_status *status);

/*
 * Starts an unscoped transaction (control plane work), its statements
 * bounded by the statement timeout like a tenant's.
 */
tn_db_status tn_db_begin(tn_db *db);

/*
 * Sends one statement with text parameters (unnamed, so it works behind
 * PgBouncer in transaction mode) after whatever is queued, and waits for
 * all of it. With commit set, COMMIT goes in the same round trip and the
 * transaction is over on success. Returns the statement's result (the
 * caller PQclear()s it) or NULL with the status in *status.
 */
PGresult *tn_db_exec(tn_db *db, const char *sql, int nparams,
    const char *const *params, int commit, tn_db_status *status);

/*
 * Queues one statement of the open transaction without waiting: it goes
 * to the server with the next tn_db_exec or tn_db_commit, whose status
 * covers it, and its result is not kept.
 */
tn_db_status tn_db_queue(
    tn_db *db, const char *sql, int nparams, const char *const *params);

tn_db_status tn_db_commit(tn_db *db);

/* Ends whatever transaction is open, discarding its work. */
void tn_db_rollback(tn_db *db);

/*
 * Runs a statement outside a transaction (autocommit), bounded by the
 * statement timeout: the timeout travels with it in the same round trip.
 */
PGresult *tn_db_query(tn_db *db, const char *sql, int nparams,
    const char *const *params, tn_db_status *status);

/* Runs a script of several statements (simple protocol, no parameters). */
tn_db_status tn_db_script(tn_db *db, const char *sql);

/* Monotonic clock: whole milliseconds, and fractional for durations. */
long long tn_db_now_ms(void);
double tn_db_clock_ms(void);

#endif
