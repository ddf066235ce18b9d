/* The migration engine, shared by tenantctl and onboarding. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "migrate.h"

#define TN_MIGRATION_MAX (4 * 1024 * 1024)

static const char bootstrap_sql[] =
    "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
    " schema_name text NOT NULL,"
    " version text NOT NULL,"
    " file text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " duration_ms double precision NOT NULL,"
    " PRIMARY KEY (schema_name, version))";

/* A migration file name: four digits, "_", [a-z0-9_]+, ".sql". */
static int
valid_name(const char *name)
{
	size_t len = strlen(name), i;

	if (len < 10 || len >= sizeof(((tn_migration *)0)->file) ||
	    strcmp(name + len - 4, ".sql") != 0 || name[4] != '_') {
		return 0;
	}
	for (i = 0; i < 4; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return 0;
		}
	}
	for (i = 5; i < len - 4; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		        (name[i] >= '0' && name[i] <= '9') || name[i] == '_')) {
			return 0;
		}
	}
	return 1;
}

static int
by_file(const void *a, const void *b)
{
	return strcmp(
	    ((const tn_migration *)a)->file, ((const tn_migration *)b)->file);
}

/*
 * Opens dir/name for reading when it is a regular file inside real_dir
 * (the folder's resolved path), itself or through a link; a FIFO is not
 * waited on. Returns the stream, or NULL with err set.
 */
static FILE *
open_inside(const char *dir, const char *real_dir, const char *name, char *err,
    size_t errlen)
{
	size_t len = strcmp(real_dir, "/") == 0 ? 0 : strlen(real_dir);
	char path[4096], *real;
	struct stat st;
	FILE *f = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	real = realpath(path, NULL);
	if (real == NULL) {
		snprintf(err, errlen, "cannot open migration \"%s\"", path);
		return NULL;
	}
	if (strncmp(real, real_dir, len) != 0 || real[len] != '/') {
		snprintf(err, errlen,
		    "migration \"%s\" leads outside its folder (to \"%s\")",
		    path, real);
		goto done;
	}

	fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open migration \"%s\"", path);
		goto done;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "migration \"%s\" is not a regular file",
		    path);
		goto done;
	}
	f = fdopen(fd, "rb");
	if (f == NULL) {
		close(fd);
		snprintf(err, errlen, "cannot open migration \"%s\"", path);
	}

done:
	free(real);
	return f;
}

/* Is the first line of sql the no-transaction mark (blanks after it)? */
static int
has_no_tx_mark(const char *sql)
{
	size_t n = strlen(TN_MIGRATE_NO_TX_MARK);

	if (strncmp(sql, TN_MIGRATE_NO_TX_MARK, n) != 0) {
		return 0;
	}
	sql += n;
	while (*sql == ' ' || *sql == '\t' || *sql == '\r') {
		sql++;
	}
	return *sql == '\n' || *sql == '\0';
}

/* Fills each file's digest: the chain of versions and checksums so far. */
static void
chain_digests(tn_migration_set *set)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state state;
	const char *before = "";
	size_t i;

	for (i = 0; i < set->count; i++) {
		tn_migration *m = &set->files[i];

		crypto_hash_sha256_init(&state);
		crypto_hash_sha256_update(
		    &state, (const unsigned char *)before, strlen(before));
		crypto_hash_sha256_update(&state,
		    (const unsigned char *)m->version, strlen(m->version));
		crypto_hash_sha256_update(&state,
		    (const unsigned char *)m->checksum, strlen(m->checksum));
		crypto_hash_sha256_final(&state, hash);
		sodium_bin2hex(
		    m->digest, sizeof(m->digest), hash, sizeof(hash));
		before = m->digest;
	}
}

/* Reads one file into m; returns -1 with err set on failure. */
static int
read_file(const char *dir, const char *real_dir, const char *name,
    tn_migration *m, char *err, size_t errlen)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char path[4096];
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = open_inside(dir, real_dir, name, err, errlen);
	if (f == NULL) {
		return -1;
	}

	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > TN_MIGRATION_MAX || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		snprintf(err, errlen,
		    "cannot read migration \"%s\" (at most 4 MiB)", path);
		return -1;
	}

	m->sql = malloc((size_t)size + 1);
	if (m->sql == NULL ||
	    fread(m->sql, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		snprintf(err, errlen, "cannot read migration \"%s\"", path);
		return -1;
	}
	fclose(f);
	m->sql[size] = '\0';

	if (memchr(m->sql, '\0', (size_t)size) != NULL) {
		snprintf(
		    err, errlen, "migration \"%s\" contains a NUL byte", path);
		return -1;
	}

	crypto_hash_sha256(hash, (const unsigned char *)m->sql, (size_t)size);
	sodium_bin2hex(m->checksum, sizeof(m->checksum), hash, sizeof(hash));
	m->no_transaction = has_no_tx_mark(m->sql);
	memcpy(m->version, name, 4);
	m->version[4] = '\0';
	snprintf(m->file, sizeof(m->file), "%s", name);
	return 0;
}

int
tn_migrate_load(
    const char *dir, tn_migration_set *set, char *err, size_t errlen)
{
	struct dirent *de;
	tn_migration *grown;
	char *real_dir;
	size_t cap = 0, i;
	DIR *d;
	int rc = -1;

	memset(set, 0, sizeof(*set));

	real_dir = realpath(dir, NULL);
	d = real_dir != NULL ? opendir(dir) : NULL;
	if (d == NULL) {
		free(real_dir);
		snprintf(
		    err, errlen, "cannot open migrations folder \"%s\"", dir);
		return -1;
	}

	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			continue;
		}
		if (!valid_name(de->d_name)) {
			snprintf(err, errlen,
			    "migration file name \"%s/%s\" is not NNNN_name.sql",
			    dir, de->d_name);
			goto done;
		}

		if (set->count == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(set->files, cap * sizeof(*grown));
			if (grown == NULL) {
				snprintf(err, errlen, "out of memory");
				goto done;
			}
			set->files = grown;
		}

		memset(&set->files[set->count], 0, sizeof(tn_migration));
		set->count++;
		if (read_file(dir, real_dir, de->d_name,
		        &set->files[set->count - 1], err, errlen) != 0) {
			goto done;
		}
	}

	/* an empty folder has no array to sort (qsort wants one) */
	if (set->count > 1) {
		qsort(set->files, set->count, sizeof(tn_migration), by_file);
	}
	for (i = 1; i < set->count; i++) {
		if (strcmp(set->files[i].version, set->files[i - 1].version) ==
		    0) {
			snprintf(err, errlen,
			    "migrations \"%s\" and \"%s\" in \"%s\" share a version",
			    set->files[i - 1].file, set->files[i].file, dir);
			goto done;
		}
	}
	chain_digests(set);
	rc = 0;

done:
	closedir(d);
	free(real_dir);
	if (rc != 0) {
		tn_migrate_free(set);
	}
	return rc;
}

void
tn_migrate_free(tn_migration_set *set)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		free(set->files[i].sql);
	}
	free(set->files);
	memset(set, 0, sizeof(*set));
}

int
tn_migrate_newest(const tn_migration_set *set)
{
	return set->count > 0 ? atoi(set->files[set->count - 1].version) : 0;
}

const char *
tn_migrate_digest(const tn_migration_set *set)
{
	return set->count > 0 ? set->files[set->count - 1].digest : "";
}

static tn_migrate_status
db_failure(
    tn_db *db, tn_db_status st, const char *what, char *err, size_t errlen)
{
	if (st == TN_DB_DOWN) {
		snprintf(err, errlen, "%s: database unavailable: %s", what,
		    db->error);
		return TN_MIGRATE_DB_DOWN;
	}
	snprintf(err, errlen, "%s: %s", what, db->error);
	return TN_MIGRATE_FAILED;
}

tn_migrate_status
tn_migrate_bootstrap(tn_db *db, char *err, size_t errlen)
{
	tn_db_status st = tn_db_script(db, bootstrap_sql);

	if (st != TN_DB_OK) {
		return db_failure(
		    db, st, "creating schema_migrations", err, errlen);
	}
	return TN_MIGRATE_OK;
}

static const tn_migration *
find_version(const tn_migration_set *set, const char *version)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (strcmp(set->files[i].version, version) == 0) {
			return &set->files[i];
		}
	}
	return NULL;
}

/* Refuses applied migrations whose file changed or disappeared. */
static tn_migrate_status
check_applied(const tn_migration_set *set, const PGresult *applied,
    const char *schema, char *err, size_t errlen)
{
	const tn_migration *m;
	int i;

	for (i = 0; i < PQntuples(applied); i++) {
		m = find_version(set, PQgetvalue(applied, i, 0));
		if (m == NULL) {
			snprintf(err, errlen,
			    "migration %s applied to schema \"%s\" is missing from the migrations folder",
			    PQgetvalue(applied, i, 1), schema);
			return TN_MIGRATE_FAILED;
		}
		if (strcmp(m->checksum, PQgetvalue(applied, i, 2)) != 0) {
			snprintf(err, errlen,
			    "migration %s applied to schema \"%s\" has changed since (checksum %.12s, applied %.12s)",
			    m->file, schema, m->checksum,
			    PQgetvalue(applied, i, 2));
			return TN_MIGRATE_FAILED;
		}
	}
	return TN_MIGRATE_OK;
}

static int
is_applied(const PGresult *applied, const char *version)
{
	int i;

	for (i = 0; i < PQntuples(applied); i++) {
		if (strcmp(PQgetvalue(applied, i, 0), version) == 0) {
			return 1;
		}
	}
	return 0;
}

static const char exists_sql[] =
    "SELECT EXISTS (SELECT 1 FROM public.schema_migrations"
    " WHERE schema_name = $1 AND version = $2),"
    " EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";

/* Runs a one-row statement on its own, for the session-level steps. */
static tn_db_status
session_step(tn_db *db, const char *sql, int nparams, const char *const *params)
{
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(db, sql, nparams, params, &st);
	PQclear(r);
	return st;
}

/* Gives up the session-level lock of schema, if the connection lives. */
static void
unlock_schema(tn_db *db, const char *schema)
{
	if (db->conn != NULL) {
		session_step(db,
		    "SELECT pg_advisory_unlock(" TN_MIGRATE_LOCK_KEY ")", 1,
		    (const char *[]){schema});
	}
}

/* How long a migrator waits before it tries a busy schema's lock again. */
#define TN_MIGRATE_LOCK_POLL_NS (50 * 1000 * 1000)

/*
 * Takes the advisory lock of schema (for the transaction begun here, or
 * with session set for the session), then tells in *done whether m was
 * applied meanwhile. The lock is tried, not waited for in the server: a
 * statement waiting there holds a snapshot that a CREATE INDEX
 * CONCURRENTLY on the same schema would wait for, a deadlock. The check
 * is a statement of its own, so that it sees what committed before the
 * lock was granted. On failure no transaction is left open.
 */
static tn_db_status
lock_schema(tn_db *db, const char *schema, const tn_migration *m, int session,
    int *done)
{
	const char *params[2] = {schema, m->version};
	const struct timespec pause = {0, TN_MIGRATE_LOCK_POLL_NS};
	tn_db_status st;
	PGresult *r;
	int got, gone;

	for (;;) {
		st = session ? tn_db_ensure(db) : tn_db_begin(db);
		if (st != TN_DB_OK) {
			return st;
		}
		r = session
		    ? tn_db_query(db,
		          "SELECT pg_try_advisory_lock(" TN_MIGRATE_LOCK_KEY
		          ")",
		          1, params, &st)
		    : tn_db_exec(db,
		          "SELECT pg_try_advisory_xact_lock(" TN_MIGRATE_LOCK_KEY
		          ")",
		          1, params, 0, &st);
		if (r == NULL) {
			tn_db_rollback(db);
			return st;
		}
		got = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (got) {
			break;
		}
		tn_db_rollback(db);
		nanosleep(&pause, NULL);
	}

	r = session ? tn_db_query(db, exists_sql, 2, params, &st)
	            : tn_db_exec(db, exists_sql, 2, params, 0, &st);
	if (r == NULL) {
		tn_db_rollback(db);
		if (session) {
			unlock_schema(db, schema);
		}
		return st;
	}
	*done = PQgetvalue(r, 0, 0)[0] == 't';
	gone = PQgetvalue(r, 0, 1)[0] != 't';
	PQclear(r);
	if (gone) {
		/* purged while this run went on: nothing left to migrate */
		tn_db_rollback(db);
		if (session) {
			unlock_schema(db, schema);
		}
		snprintf(db->error, sizeof(db->error),
		    "schema \"%s\" no longer exists", schema);
		return TN_DB_ERROR;
	}
	return TN_DB_OK;
}

/*
 * Records m as applied to schema, for a tenant together with its row's
 * schema_version and schema_digest, and commits the transaction open on
 * db. The role and search_path go back to the login role's first.
 */
static tn_db_status
record_applied(
    tn_db *db, const tn_migration *m, const char *schema, int tenant, double ms)
{
	const char *record[6];
	char duration[32];
	tn_db_status st;
	PGresult *r;

	snprintf(duration, sizeof(duration), "%.3f", ms);
	record[0] = schema;
	record[1] = m->version;
	record[2] = m->file;
	record[3] = m->checksum;
	record[4] = duration;
	record[5] = m->digest;

	r = tn_db_exec(db,
	    "SELECT set_config('role', 'none', true),"
	    " set_config('search_path', 'public', true)",
	    0, NULL, 0, &st);
	PQclear(r);
	if (st != TN_DB_OK) {
		return st;
	}

	r = tn_db_exec(db,
	    tenant ? "WITH m AS (INSERT INTO public.schema_migrations"
	             " (schema_name, version, file, checksum, duration_ms)"
	             " VALUES ($1, $2, $3, $4, $5))"
	             " UPDATE public.tenants SET"
	             " schema_version = $2::integer, schema_digest = $6"
	             " WHERE schema_name = $1"
	           : "INSERT INTO public.schema_migrations"
	             " (schema_name, version, file, checksum, duration_ms)"
	             " VALUES ($1, $2, $3, $4, $5)",
	    tenant ? 6 : 5, record, 1, &st);
	PQclear(r);
	return st;
}

/* Runs the file's SQL, a script of several statements: simple protocol. */
static tn_db_status
run_file(tn_db *db, const tn_migration *m, double *ms)
{
	double t0 = tn_db_clock_ms();
	tn_db_status st = tn_db_script(db, m->sql);

	*ms = tn_db_clock_ms() - t0;
	return st;
}

/*
 * Applies one file in its own transaction. Another migrator may have
 * applied it while this one waited for the lock: then nothing happens.
 */
static tn_migrate_status
apply_in_transaction(tn_db *db, const tn_migration *m, const char *schema,
    const char *role, int *applied, char *err, size_t errlen)
{
	tn_migrate_status ms;
	char what[256];
	tn_db_status st;
	PGresult *r;
	double took;
	int done;

	snprintf(what, sizeof(what), "migration %s on schema \"%s\"", m->file,
	    schema);

	st = lock_schema(db, schema, m, 0, &done);
	if (st != TN_DB_OK) {
		return db_failure(db, st, what, err, errlen);
	}
	if (done) {
		tn_db_rollback(db);
		return TN_MIGRATE_OK;
	}

	if (role != NULL) {
		char quoted[80];

		snprintf(quoted, sizeof(quoted), "\"%s\"", schema);
		r = tn_db_exec(db,
		    "SELECT set_config('search_path', $1, true),"
		    " set_config('role', $2, true)",
		    2, (const char *[]){quoted, role}, 0, &st);
		if (r == NULL) {
			goto fail;
		}
		PQclear(r);
	}

	st = run_file(db, m, &took);
	if (st == TN_DB_OK) {
		st = record_applied(db, m, schema, role != NULL, took);
	}
	if (st != TN_DB_OK) {
		goto fail;
	}

	tn_log(TN_LOG_NOTICE, "applied %s in %.3f ms", what, took);
	(*applied)++;
	return TN_MIGRATE_OK;

fail:
	ms = db_failure(db, st, what, err, errlen);
	tn_db_rollback(db);
	return ms;
}

/*
 * Applies a no-transaction file (CREATE INDEX CONCURRENTLY and the like):
 * under a session-level advisory lock for the schema, with role and
 * search_path set for the session and reset after, and recorded in a
 * transaction of its own once it ran. A failure in between leaves the file
 * unrecorded, so such files must be safe to run again (IF NOT EXISTS).
 */
static tn_migrate_status
apply_outside_transaction(tn_db *db, const tn_migration *m, const char *schema,
    const char *role, int *applied, char *err, size_t errlen)
{
	tn_migrate_status ms = TN_MIGRATE_FAILED;
	char what[256], quoted[80];
	double took = 0;
	tn_db_status st;
	int done;

	snprintf(what, sizeof(what), "migration %s on schema \"%s\"", m->file,
	    schema);

	st = lock_schema(db, schema, m, 1, &done);
	if (st != TN_DB_OK) {
		return db_failure(db, st, what, err, errlen);
	}
	if (done) {
		ms = TN_MIGRATE_OK;
		goto unlock;
	}

	st = TN_DB_OK;
	if (role != NULL) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", schema);
		st = session_step(db,
		    "SELECT set_config('search_path', $1, false),"
		    " set_config('role', $2, false)",
		    2, (const char *[]){quoted, role});
	}
	if (st == TN_DB_OK) {
		st = run_file(db, m, &took);
	}
	if (st == TN_DB_ERROR) {
		/* the file's error is the one reported */
		ms = db_failure(db, st, what, err, errlen);
		tn_db_script(db, "RESET role; RESET search_path");
		goto unlock;
	}

	if (st == TN_DB_OK) {
		st = tn_db_script(db, "RESET role; RESET search_path");
	}
	if (st == TN_DB_OK) {
		st = tn_db_begin(db);
	}
	if (st == TN_DB_OK) {
		st = record_applied(db, m, schema, role != NULL, took);
	}
	if (st != TN_DB_OK) {
		ms = db_failure(db, st, what, err, errlen);
		tn_db_rollback(db);
		goto unlock;
	}

	tn_log(TN_LOG_NOTICE, "applied %s in %.3f ms", what, took);
	(*applied)++;
	ms = TN_MIGRATE_OK;

unlock:
	unlock_schema(db, schema);
	return ms;
}

/*
 * A tenant whose files were all applied earlier, by another migrator or
 * before the control plane kept versions: its row catches up.
 */
static tn_db_status
sync_tenant_row(tn_db *db, const tn_migration_set *set, const char *schema)
{
	char version[16];

	snprintf(version, sizeof(version), "%d", tn_migrate_newest(set));
	return session_step(db,
	    "UPDATE public.tenants SET schema_version = $2::integer,"
	    " schema_digest = $3 WHERE schema_name = $1"
	    " AND (schema_version, schema_digest)"
	    " IS DISTINCT FROM ($2::integer, $3)",
	    3, (const char *[]){schema, version, tn_migrate_digest(set)});
}

tn_migrate_status
tn_migrate_schema(tn_db *db, const tn_migration_set *set, const char *schema,
    const char *role, unsigned flags, unsigned char *marks, int *applied,
    char *err, size_t errlen)
{
	tn_migrate_status ms = TN_MIGRATE_OK;
	const char *params[1] = {schema};
	const tn_migration *m;
	tn_db_status st;
	PGresult *done;
	size_t i;
	int before;

	*applied = 0;
	if (marks != NULL) {
		memset(marks, 0, set->count);
	}

	done = tn_db_query(db,
	    "SELECT version, file, checksum FROM public.schema_migrations"
	    " WHERE schema_name = $1 ORDER BY version",
	    1, params, &st);
	if (done == NULL) {
		return db_failure(
		    db, st, "reading applied migrations", err, errlen);
	}

	ms = check_applied(set, done, schema, err, errlen);
	for (i = 0; ms == TN_MIGRATE_OK && i < set->count; i++) {
		m = &set->files[i];
		if (is_applied(done, m->version)) {
			continue;
		}
		before = *applied;
		if (flags & TN_MIGRATE_DRY_RUN) {
			(*applied)++;
		} else if (m->no_transaction) {
			ms = apply_outside_transaction(
			    db, m, schema, role, applied, err, errlen);
		} else {
			ms = apply_in_transaction(
			    db, m, schema, role, applied, err, errlen);
		}
		if (marks != NULL && *applied > before) {
			marks[i] = 1;
		}
	}
	PQclear(done);

	if (ms == TN_MIGRATE_OK && role != NULL && *applied == 0 &&
	    !(flags & TN_MIGRATE_DRY_RUN)) {
		st = sync_tenant_row(db, set, schema);
		if (st != TN_DB_OK) {
			ms = db_failure(db, st, "recording the schema version",
			    err, errlen);
		}
	}
	return ms;
}
