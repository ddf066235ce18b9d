/*
 * tenantctl tenant create, export and import. An export is one file:
 *
 *   line 1     {"format": "tenantry-export", "version": 1, "tenant": {...},
 *              "domains": [...], "onboarding_steps": [...],
 *              "migrations": [...], "sequences": {...}, "tables": [...]}
 *   per table  {"table": NAME, "columns": [...]}, then the rows in COPY
 *              text format, then a line "\." (a data row never is one:
 *              COPY doubles every backslash)
 *   last line  {"end": true, "rows": {NAME: COUNT}, "sha256": HEX}, the
 *              hash of every byte before that line.
 *
 * The control-plane rows travel as JSON, whole, so columns added later
 * travel too. The schema itself is not in the file: import replays the
 * migrations the export names (refusing files that differ), loads the
 * rows with COPY and sets the sequences, all in one transaction.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "migrate.h"
#include "onboard.h"
#include "tenant.h"
#include "transfer.h"

#define TN_EXPORT_FORMAT  "tenantry-export"
#define TN_EXPORT_VERSION 1
#define TN_END_OF_ROWS    "\\.\n"

/* Where export writes: the file and the running hash of what it wrote. */
typedef struct {
	FILE *f;
	crypto_hash_sha256_state sha;
	int failed;
} writer;

/* What the first pass over an import file found. */
typedef struct {
	json_object *header;
	json_object *trailer;
	json_object *counted; /* table name -> rows found */
} export_file;

void
tn_transfer_usage(FILE *out)
{
	fputs(
	    "       tenantctl tenant create SUBDOMAIN --name NAME --email EMAIL\n"
	    "                 --password-file FILE [--owner-name NAME]\n"
	    "       tenantctl export SUBDOMAIN > FILE\n"
	    "       tenantctl import FILE [--as SUBDOMAIN] [--without-domains]\n",
	    out);
}

int
tn_transfer_handles(int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "export") == 0 ||
	        strcmp(argv[1], "import") == 0)) {
		return 1;
	}
	return argc >= 3 && strcmp(argv[1], "tenant") == 0 &&
	    strcmp(argv[2], "create") == 0;
}

/* Runs one statement; NULL with the reason in err when it fails. */
static PGresult *
ask(tn_db *db, const char *sql, int nparams, const char *const *params,
    char *err, size_t errlen)
{
	tn_db_status st;
	PGresult *r;

	r = tn_db_query(db, sql, nparams, params, &st);
	if (r == NULL) {
		snprintf(err, errlen, "%s",
		    st == TN_DB_DOWN ? "database unavailable" : db->error);
	}
	return r;
}

/* Runs a statement whose result is not needed; 0 or -1 (reason in err). */
static int
run(tn_db *db, const char *sql, int nparams, const char *const *params,
    char *err, size_t errlen)
{
	PGresult *r = ask(db, sql, nparams, params, err, errlen);

	PQclear(r);
	return r == NULL ? -1 : 0;
}

static const char *
member_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

static json_object *
member_of_type(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type)) {
		return NULL;
	}
	return v;
}

/* "schema"."name", quoted by the server's rules; NULL when out of memory. */
static char *
qualified(PGconn *conn, const char *schema, const char *name)
{
	char *s, *n, *out = NULL;
	size_t len;

	s = PQescapeIdentifier(conn, schema, strlen(schema));
	n = PQescapeIdentifier(conn, name, strlen(name));
	if (s != NULL && n != NULL) {
		len = strlen(s) + strlen(n) + 2;
		out = malloc(len);
		if (out != NULL) {
			snprintf(out, len, "%s.%s", s, n);
		}
	}
	PQfreemem(s);
	PQfreemem(n);
	return out;
}

/*
 * COPY "schema"."table" (columns) TO STDOUT or FROM STDIN, columns from a
 * JSON array of names. Returns an allocated statement or NULL.
 */
static char *
copy_statement(PGconn *conn, const char *schema, const char *table,
    json_object *columns, const char *direction)
{
	char *target, *col, *sql = NULL;
	size_t i, len, used;

	target = qualified(conn, schema, table);
	if (target == NULL) {
		return NULL;
	}
	len = strlen(target) + 64;
	for (i = 0; i < json_object_array_length(columns); i++) {
		len += 2 *
		        strlen(json_object_get_string(
		            json_object_array_get_idx(columns, i))) +
		    4;
	}

	sql = malloc(len);
	if (sql == NULL) {
		goto done;
	}
	used = (size_t)snprintf(sql, len, "COPY %s (", target);
	for (i = 0; i < json_object_array_length(columns); i++) {
		const char *name = json_object_get_string(
		    json_object_array_get_idx(columns, i));

		col = PQescapeIdentifier(conn, name, strlen(name));
		if (col == NULL) {
			free(sql);
			sql = NULL;
			goto done;
		}
		used += (size_t)snprintf(
		    sql + used, len - used, "%s%s", i > 0 ? ", " : "", col);
		PQfreemem(col);
	}
	snprintf(sql + used, len - used, ") %s", direction);

done:
	free(target);
	return sql;
}

static void
put(writer *w, const void *bytes, size_t n)
{
	crypto_hash_sha256_update(&w->sha, bytes, n);
	if (fwrite(bytes, 1, n, w->f) != n) {
		w->failed = 1;
	}
}

static void
put_line(writer *w, json_object *o)
{
	const char *s =
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	put(w, s, strlen(s));
	put(w, "\n", 1);
}

static void
sha256_hex(crypto_hash_sha256_state *sha, char hex[65])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(sha, digest);
	sodium_bin2hex(hex, 65, digest, sizeof(digest));
}

/*
 * The tenant's control-plane rows as JSON: the tenant, its domains, its
 * onboarding steps and its applied migrations, added to header. The
 * tenant must be active or suspended.
 */
static int
export_control_plane(tn_db *db, const char *subdomain, json_object *header,
    char *schema, char *role, char *err, size_t errlen)
{
	const char *params[1] = {subdomain};
	const char *keys[] = {
	    "tenant", "domains", "onboarding_steps", "migrations"};
	const char *status;
	PGresult *r;
	int i, rc = -1;

	r = ask(db,
	    "SELECT row_to_json(t)::text,"
	    " (SELECT coalesce(json_agg(d ORDER BY d.host), '[]')::text"
	    "  FROM public.tenant_domains d WHERE d.tenant_id = t.id),"
	    " (SELECT coalesce(json_agg(o ORDER BY o.step), '[]')::text"
	    "  FROM public.onboarding_steps o WHERE o.tenant_id = t.id),"
	    " (SELECT coalesce(json_agg(m ORDER BY m.version), '[]')::text"
	    "  FROM public.schema_migrations m"
	    "  WHERE m.schema_name = t.schema_name),"
	    " t.schema_name, t.role_name, t.status"
	    " FROM public.tenants t WHERE t.subdomain = $1",
	    1, params, err, errlen);
	if (r == NULL) {
		return -1;
	}
	if (PQntuples(r) != 1) {
		snprintf(err, errlen, "no tenant \"%s\"", subdomain);
		goto done;
	}

	status = PQgetvalue(r, 0, 6);
	if (strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0) {
		snprintf(err, errlen,
		    "the tenant is %s: only an active or suspended tenant is exported",
		    status);
		goto done;
	}

	for (i = 0; i < 4; i++) {
		json_object_object_add(
		    header, keys[i], json_tokener_parse(PQgetvalue(r, 0, i)));
	}
	snprintf(schema, TN_LABEL_MAX + 1, "%s", PQgetvalue(r, 0, 4));
	snprintf(role, TN_LABEL_MAX + 1, "%s", PQgetvalue(r, 0, 5));
	rc = 0;

done:
	PQclear(r);
	return rc;
}

/*
 * The schema's tables, referenced tables before those referring to them,
 * each with its columns (generated ones left out), into header "tables".
 */
static int
export_tables(tn_db *db, const char *schema, json_object *header, char *err,
    size_t errlen)
{
	const char *params[1] = {schema};
	json_object *tables;
	PGresult *r;
	int i;

	r = ask(db,
	    "WITH RECURSIVE dep (oid, depth) AS ("
	    "  SELECT c.oid, 0 FROM pg_class c JOIN pg_namespace n"
	    "  ON n.oid = c.relnamespace WHERE n.nspname = $1"
	    "  AND c.relkind = 'r'"
	    " UNION ALL"
	    "  SELECT k.conrelid, d.depth + 1 FROM dep d"
	    "  JOIN pg_constraint k ON k.confrelid = d.oid"
	    "  AND k.contype = 'f' AND k.conrelid <> k.confrelid"
	    "  WHERE d.depth < 64)"
	    " SELECT c.relname, (SELECT json_agg(a.attname ORDER BY a.attnum)"
	    "  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"
	    "  AND NOT a.attisdropped AND a.attgenerated = '')::text"
	    " FROM dep JOIN pg_class c ON c.oid = dep.oid"
	    " GROUP BY c.oid, c.relname ORDER BY max(dep.depth), c.relname",
	    1, params, err, errlen);
	if (r == NULL) {
		return -1;
	}

	tables = json_object_new_array();
	for (i = 0; i < PQntuples(r); i++) {
		json_object *t = json_object_new_object();

		json_object_object_add(
		    t, "table", json_object_new_string(PQgetvalue(r, i, 0)));
		json_object_object_add(
		    t, "columns", json_tokener_parse(PQgetvalue(r, i, 1)));
		json_object_array_add(tables, t);
	}
	json_object_object_add(header, "tables", tables);
	PQclear(r);
	return 0;
}

/*
 * Every sequence of the schema with its state, read as the tenant's role
 * (set on the transaction by the caller), into header "sequences".
 */
static int
export_sequences(tn_db *db, const char *schema, json_object *header, char *err,
    size_t errlen)
{
	const char *params[1] = {schema};
	json_object *seqs, *one;
	PGresult *r, *v;
	char *name, sql[256];
	int i, rc = -1;

	r = ask(db,
	    "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
	    " ON n.oid = c.relnamespace WHERE n.nspname = $1"
	    " AND c.relkind = 'S' ORDER BY c.relname",
	    1, params, err, errlen);
	if (r == NULL) {
		return -1;
	}

	seqs = json_object_new_object();
	json_object_object_add(header, "sequences", seqs);
	for (i = 0; i < PQntuples(r); i++) {
		name = qualified(db->conn, schema, PQgetvalue(r, i, 0));
		if (name == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		snprintf(sql, sizeof(sql),
		    "SELECT last_value, is_called FROM %s", name);
		free(name);

		v = ask(db, sql, 0, NULL, err, errlen);
		if (v == NULL) {
			goto done;
		}
		one = json_object_new_object();
		json_object_object_add(one, "last_value",
		    json_object_new_int64(
		        strtoll(PQgetvalue(v, 0, 0), NULL, 10)));
		json_object_object_add(one, "is_called",
		    json_object_new_boolean(PQgetvalue(v, 0, 1)[0] == 't'));
		json_object_object_add(seqs, PQgetvalue(r, i, 0), one);
		PQclear(v);
	}
	rc = 0;

done:
	PQclear(r);
	return rc;
}

/* Streams one table's rows in COPY text format; counts them in *rows. */
static int
export_rows(tn_db *db, const char *schema, json_object *table, writer *w,
    long long *rows, char *err, size_t errlen)
{
	const char *name = member_string(table, "table");
	char *sql, *line;
	PGresult *r;
	int n, rc = -1;

	*rows = 0;
	sql = copy_statement(db->conn, schema, name,
	    member_of_type(table, "columns", json_type_array), "TO STDOUT");
	if (sql == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	r = PQexec(db->conn, sql);
	free(sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		snprintf(err, errlen, "copying %s: %s", name,
		    PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	PQclear(r);

	/* libpq hands over one row per call */
	while ((n = PQgetCopyData(db->conn, &line, 0)) > 0) {
		put(w, line, (size_t)n);
		PQfreemem(line);
		(*rows)++;
	}

	r = PQgetResult(db->conn);
	if (n == -1 && PQresultStatus(r) == PGRES_COMMAND_OK) {
		rc = 0;
	} else {
		snprintf(err, errlen, "copying %s: %s", name,
		    PQerrorMessage(db->conn));
	}
	PQclear(r);
	while ((r = PQgetResult(db->conn)) != NULL) {
		PQclear(r);
	}
	put(w, TN_END_OF_ROWS, strlen(TN_END_OF_ROWS));
	return rc;
}

/*
 * Writes the export of one tenant to out, read in one repeatable-read
 * snapshot so that the rows of every table belong together.
 */
static int
cmd_export(tn_db *db, const char *subdomain, FILE *out)
{
	json_object *header, *tables, *rows, *trailer, *t;
	char schema[TN_LABEL_MAX + 1], role[TN_LABEL_MAX + 1];
	char err[1024] = "", hex[65];
	const char *params[1];
	long long count;
	writer w;
	size_t i;
	int rc = 1;

	memset(&w, 0, sizeof(w));
	w.f = out;
	crypto_hash_sha256_init(&w.sha);
	header = json_object_new_object();
	rows = json_object_new_object();
	json_object_object_add(
	    header, "format", json_object_new_string(TN_EXPORT_FORMAT));
	json_object_object_add(
	    header, "version", json_object_new_int(TN_EXPORT_VERSION));
	json_object_object_add(
	    header, "subdomain", json_object_new_string(subdomain));

	if (tn_db_script(
	        db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") !=
	    TN_DB_OK) {
		snprintf(err, sizeof(err), "%s", db->error);
		goto done;
	}
	if (export_control_plane(
	        db, subdomain, header, schema, role, err, sizeof(err)) != 0 ||
	    export_tables(db, schema, header, err, sizeof(err)) != 0) {
		goto done;
	}

	params[0] = role;
	if (run(db, "SELECT set_config('role', $1, true)", 1, params, err,
	        sizeof(err)) != 0 ||
	    export_sequences(db, schema, header, err, sizeof(err)) != 0) {
		goto done;
	}
	json_object_object_add(
	    header, "schema", json_object_new_string(schema));
	put_line(&w, header);

	tables = member_of_type(header, "tables", json_type_array);
	for (i = 0; i < json_object_array_length(tables); i++) {
		t = json_object_array_get_idx(tables, i);
		put_line(&w, t);
		if (export_rows(db, schema, t, &w, &count, err, sizeof(err)) !=
		    0) {
			goto done;
		}
		json_object_object_add(rows, member_string(t, "table"),
		    json_object_new_int64(count));
	}

	sha256_hex(&w.sha, hex);
	trailer = json_object_new_object();
	json_object_object_add(trailer, "end", json_object_new_boolean(1));
	json_object_object_add(trailer, "rows", json_object_get(rows));
	json_object_object_add(trailer, "sha256", json_object_new_string(hex));
	fprintf(out, "%s\n",
	    json_object_to_json_string_ext(trailer, JSON_C_TO_STRING_PLAIN));
	json_object_put(trailer);

	if (fflush(out) != 0 || ferror(out) || w.failed) {
		snprintf(err, sizeof(err), "cannot write the export");
		goto done;
	}
	rc = 0;

done:
	tn_db_rollback(db);
	if (rc != 0) {
		fprintf(
		    stderr, "tenantctl: export of %s: %s\n", subdomain, err);
	}
	json_object_put(header);
	json_object_put(rows);
	return rc;
}

/*
 * Reads one line; -1 at the end of the file or when the last line has no
 * line end (the file was cut off).
 */
static ssize_t
read_line(FILE *f, char **line, size_t *cap)
{
	ssize_t n = getline(line, cap, f);

	if (n <= 0 || (*line)[n - 1] != '\n') {
		return -1;
	}
	return n;
}

/* Checks the header line's format and version. */
static int
check_header(json_object *header, char *err, size_t errlen)
{
	const char *format = member_string(header, "format");
	json_object *version = member_of_type(header, "version", json_type_int);

	if (format == NULL || strcmp(format, TN_EXPORT_FORMAT) != 0) {
		snprintf(err, errlen, "not a tenant export");
		return -1;
	}
	if (version == NULL ||
	    json_object_get_int(version) != TN_EXPORT_VERSION) {
		snprintf(err, errlen, "export format version %s, expected %d",
		    json_object_to_json_string(version), TN_EXPORT_VERSION);
		return -1;
	}
	if (member_of_type(header, "tenant", json_type_object) == NULL ||
	    member_of_type(header, "tables", json_type_array) == NULL ||
	    member_of_type(header, "migrations", json_type_array) == NULL ||
	    member_of_type(header, "sequences", json_type_object) == NULL ||
	    member_of_type(header, "domains", json_type_array) == NULL ||
	    member_of_type(header, "onboarding_steps", json_type_array) ==
	        NULL ||
	    member_string(header, "subdomain") == NULL) {
		snprintf(err, errlen, "the header line lacks members");
		return -1;
	}
	return 0;
}

/*
 * The first pass over an import file: the header, every table section
 * in the order the header names them, the trailer, its hash and its row
 * counts. Nothing in the database is touched before this passes.
 */
static int
verify_file(FILE *f, export_file *ef, char *err, size_t errlen)
{
	crypto_hash_sha256_state sha;
	json_object *tables, *section, *rows, *want;
	const char *name, *expected;
	char *line = NULL, hex[65];
	size_t cap = 0, k = 0;
	long long count;
	ssize_t n;
	int rc = -1;

	crypto_hash_sha256_init(&sha);
	if (read_line(f, &line, &cap) < 0 ||
	    (ef->header = json_tokener_parse(line)) == NULL) {
		snprintf(err, errlen, "not a tenant export");
		goto done;
	}
	if (check_header(ef->header, err, errlen) != 0) {
		goto done;
	}
	crypto_hash_sha256_update(&sha, (unsigned char *)line, strlen(line));
	tables = member_of_type(ef->header, "tables", json_type_array);

	for (;;) {
		if ((n = read_line(f, &line, &cap)) < 0) {
			snprintf(err, errlen,
			    "the file is truncated: it ends before its last line");
			goto done;
		}
		section = json_tokener_parse(line);
		if (member_of_type(section, "end", json_type_boolean) != NULL) {
			ef->trailer = section;
			break;
		}

		name = member_string(section, "table");
		expected = k < json_object_array_length(tables)
		    ? member_string(
		          json_object_array_get_idx(tables, k), "table")
		    : NULL;
		if (name == NULL || expected == NULL ||
		    strcmp(name, expected) != 0) {
			json_object_put(section);
			snprintf(err, errlen,
			    "the file is corrupt: table %zu is not the one its header names",
			    k + 1);
			goto done;
		}
		json_object_put(section);
		crypto_hash_sha256_update(
		    &sha, (unsigned char *)line, (size_t)n);

		for (count = 0;; count++) {
			if ((n = read_line(f, &line, &cap)) < 0) {
				snprintf(err, errlen,
				    "the file is truncated in table \"%s\"",
				    expected);
				goto done;
			}
			crypto_hash_sha256_update(
			    &sha, (unsigned char *)line, (size_t)n);
			if (strcmp(line, TN_END_OF_ROWS) == 0) {
				break;
			}
		}
		json_object_object_add(
		    ef->counted, expected, json_object_new_int64(count));
		k++;
	}

	if (getline(&line, &cap, f) > 0) {
		snprintf(err, errlen,
		    "the file is corrupt: bytes follow its last line");
		goto done;
	}
	sha256_hex(&sha, hex);
	if (member_string(ef->trailer, "sha256") == NULL ||
	    strcmp(member_string(ef->trailer, "sha256"), hex) != 0) {
		snprintf(err, errlen,
		    "the file is corrupt: its checksum does not match its content");
		goto done;
	}
	if (k != json_object_array_length(tables)) {
		snprintf(err, errlen,
		    "the file is truncated: %zu of %zu tables", k,
		    json_object_array_length(tables));
		goto done;
	}
	rows = member_of_type(ef->trailer, "rows", json_type_object);
	json_object_object_foreach(ef->counted, table, got)
	{
		want = member_of_type(rows, table, json_type_int);
		if (want == NULL ||
		    json_object_get_int64(want) != json_object_get_int64(got)) {
			snprintf(err, errlen,
			    "the file is corrupt: table \"%s\" holds other rows than it says",
			    table);
			goto done;
		}
	}
	rc = 0;

done:
	free(line);
	return rc;
}

/*
 * The migrations the export was taken at, as files of this database's
 * set, in order. Refuses when a file is missing here or differs.
 */
static int
export_migrations(json_object *header, const tn_migration_set *set,
    const tn_migration **files, size_t *count, char *err, size_t errlen)
{
	json_object *list =
	    member_of_type(header, "migrations", json_type_array);
	const char *version, *checksum;
	size_t i, j;

	*count = 0;
	for (i = 0; i < set->count; i++) {
		for (j = 0; j < json_object_array_length(list); j++) {
			json_object *m = json_object_array_get_idx(list, j);

			version = member_string(m, "version");
			checksum = member_string(m, "checksum");
			if (version == NULL || checksum == NULL ||
			    strcmp(version, set->files[i].version) != 0) {
				continue;
			}
			if (strcmp(checksum, set->files[i].checksum) != 0) {
				snprintf(err, errlen,
				    "migration %s differs from the one the export was taken with",
				    set->files[i].file);
				return -1;
			}
			files[(*count)++] = &set->files[i];
		}
	}
	if (*count != json_object_array_length(list)) {
		snprintf(err, errlen,
		    "the export was taken with migrations this database's migrations folder lacks");
		return -1;
	}
	return 0;
}

/*
 * Inserts a JSON array of rows into a control-plane table, taking the
 * columns both have, identity columns left to the table. With returning
 * set, the result of that RETURNING clause goes to *out.
 */
static int
insert_rows(tn_db *db, const char *table, json_object *list,
    const char *returning, PGresult **out, char *err, size_t errlen)
{
	const char *params[2];
	char sql[2048];
	PGresult *r;

	if (json_object_array_length(list) == 0) {
		return 0;
	}

	params[0] = table;
	params[1] =
	    json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
	r = ask(db,
	    "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)"
	    " FROM pg_attribute a WHERE a.attrelid = $1::regclass"
	    " AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = ''"
	    " AND a.attgenerated = '' AND a.attname IN (SELECT k"
	    "  FROM json_array_elements($2::json) e, json_object_keys(e) k)",
	    2, params, err, errlen);
	if (r == NULL) {
		return -1;
	}

	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s (%s) SELECT %s"
	    " FROM json_populate_recordset(NULL::%s, $1::json)%s%s",
	    table, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 0), table,
	    returning ? " RETURNING " : "", returning ? returning : "");
	PQclear(r);

	r = ask(db, sql, 1, params + 1, err, errlen);
	if (r == NULL) {
		char reason[512];

		snprintf(reason, sizeof(reason), "%s", err);
		snprintf(err, errlen, "%s: %s", table, reason);
		return -1;
	}
	if (out != NULL) {
		*out = r;
	} else {
		PQclear(r);
	}
	return 0;
}

/* Points every row of a JSON array at the new tenant. */
static void
set_member(json_object *list, const char *key, json_object *value)
{
	size_t i;

	for (i = 0; i < json_object_array_length(list); i++) {
		json_object_object_add(json_object_array_get_idx(list, i), key,
		    json_object_get(value));
	}
	json_object_put(value);
}

/*
 * The control-plane rows under their new names: the tenant, its steps,
 * its migrations and (unless without_domains) its host names.
 */
static int
import_control_plane(tn_db *db, json_object *header, const tn_tenant *t,
    int without_domains, char *err, size_t errlen)
{
	json_object *tenant, *one;
	long long id;
	PGresult *r;

	tenant = member_of_type(header, "tenant", json_type_object);
	json_object_object_del(tenant, "id");
	json_object_object_add(
	    tenant, "subdomain", json_object_new_string(t->subdomain));
	json_object_object_add(
	    tenant, "schema_name", json_object_new_string(t->schema));
	json_object_object_add(
	    tenant, "role_name", json_object_new_string(t->role));

	one = json_object_new_array();
	json_object_array_add(one, json_object_get(tenant));
	r = NULL;
	if (insert_rows(db, "public.tenants", one, "id", &r, err, errlen) !=
	    0) {
		json_object_put(one);
		return -1;
	}
	json_object_put(one);
	id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);

	set_member(member_of_type(header, "onboarding_steps", json_type_array),
	    "tenant_id", json_object_new_int64(id));
	set_member(member_of_type(header, "domains", json_type_array),
	    "tenant_id", json_object_new_int64(id));
	set_member(member_of_type(header, "migrations", json_type_array),
	    "schema_name", json_object_new_string(t->schema));

	if (insert_rows(db, "public.onboarding_steps",
	        member_of_type(header, "onboarding_steps", json_type_array),
	        NULL, NULL, err, errlen) != 0 ||
	    insert_rows(db, "public.schema_migrations",
	        member_of_type(header, "migrations", json_type_array), NULL,
	        NULL, err, errlen) != 0) {
		return -1;
	}
	if (!without_domains &&
	    insert_rows(db, "public.tenant_domains",
	        member_of_type(header, "domains", json_type_array), NULL, NULL,
	        err, errlen) != 0) {
		return -1;
	}
	return 0;
}

/* Loads one table section with COPY FROM STDIN; checks the row count. */
static int
import_rows(tn_db *db, FILE *f, const char *schema, const export_file *ef,
    char *err, size_t errlen)
{
	json_object *section = NULL, *want;
	char *sql = NULL, *line = NULL;
	const char *name;
	size_t cap = 0;
	PGresult *r;
	ssize_t n;
	int rc = -1, copying = 0;

	if (read_line(f, &line, &cap) < 0 ||
	    (section = json_tokener_parse(line)) == NULL) {
		snprintf(err, errlen, "the file changed while it was read");
		goto done;
	}
	name = member_string(section, "table");
	sql = copy_statement(db->conn, schema, name,
	    member_of_type(section, "columns", json_type_array), "FROM STDIN");
	if (sql == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	r = PQexec(db->conn, sql);
	copying = PQresultStatus(r) == PGRES_COPY_IN;
	if (!copying) {
		snprintf(err, errlen, "table \"%s\": %s", name,
		    PQresultErrorMessage(r));
		PQclear(r);
		goto done;
	}
	PQclear(r);

	while ((n = read_line(f, &line, &cap)) > 0 &&
	    strcmp(line, TN_END_OF_ROWS) != 0) {
		if (PQputCopyData(db->conn, line, (int)n) != 1) {
			break;
		}
	}
	PQputCopyEnd(db->conn, n > 0 ? NULL : "the file ended early");
	copying = 0;

	r = PQgetResult(db->conn);
	want = member_of_type(ef->counted, name, json_type_int);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "table \"%s\": %s", name,
		    PQresultErrorMessage(r));
	} else if (want == NULL ||
	    strtoll(PQcmdTuples(r), NULL, 10) != json_object_get_int64(want)) {
		snprintf(err, errlen,
		    "table \"%s\": %s rows loaded, expected %s", name,
		    PQcmdTuples(r), json_object_to_json_string(want));
	} else {
		rc = 0;
	}
	PQclear(r);
	while ((r = PQgetResult(db->conn)) != NULL) {
		PQclear(r);
	}

done:
	if (copying) {
		PQputCopyEnd(db->conn, "import failed");
		while ((r = PQgetResult(db->conn)) != NULL) {
			PQclear(r);
		}
	}
	free(line);
	free(sql);
	json_object_put(section);
	return rc;
}

/* Sets every sequence of the new schema to where the export left it. */
static int
import_sequences(tn_db *db, json_object *header, const char *schema, char *err,
    size_t errlen)
{
	json_object *seqs =
	    member_of_type(header, "sequences", json_type_object);
	json_object *value, *called;
	const char *params[3];
	char last[32];
	char *name;
	int rc;

	json_object_object_foreach(seqs, seq, state)
	{
		value = member_of_type(state, "last_value", json_type_int);
		called = member_of_type(state, "is_called", json_type_boolean);
		if (value == NULL || called == NULL) {
			snprintf(
			    err, errlen, "sequence \"%s\" has no state", seq);
			return -1;
		}
		name = qualified(db->conn, schema, seq);
		if (name == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(last, sizeof(last), "%lld",
		    (long long)json_object_get_int64(value));
		params[0] = name;
		params[1] = last;
		params[2] = json_object_get_boolean(called) ? "true" : "false";
		rc = run(db,
		    "SELECT setval($1::regclass, $2::bigint, $3::boolean)", 3,
		    params, err, errlen);
		free(name);
		if (rc != 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * The import proper, inside the caller's transaction: role, schema, the
 * migrations replayed as the tenant's role, control-plane rows, rows of
 * every table, sequences.
 */
static int
import_tenant(tn_db *db, FILE *f, export_file *ef, const tn_tenant *t,
    const tn_migration **files, size_t nfiles, int without_domains, char *err,
    size_t errlen)
{
	json_object *tables =
	    member_of_type(ef->header, "tables", json_type_array);
	char sql[1024], quoted[80], *line = NULL;
	const char *params[2];
	size_t i, cap = 0;

	tn_onboard_role_sql(t->role, sql, sizeof(sql));
	if (tn_db_script(db, sql) != TN_DB_OK) {
		snprintf(err, errlen, "creating the role: %s", db->error);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE SCHEMA \"%s\" AUTHORIZATION \"%s\"",
	    t->schema, t->role);
	if (tn_db_script(db, sql) != TN_DB_OK) {
		snprintf(err, errlen, "creating the schema: %s", db->error);
		return -1;
	}

	snprintf(quoted, sizeof(quoted), "\"%s\"", t->schema);
	params[0] = quoted;
	params[1] = t->role;
	if (run(db,
	        "SELECT set_config('search_path', $1, true),"
	        " set_config('role', $2, true)",
	        2, params, err, errlen) != 0) {
		return -1;
	}
	for (i = 0; i < nfiles; i++) {
		if (tn_db_script(db, files[i]->sql) != TN_DB_OK) {
			snprintf(err, errlen, "migration %s: %s",
			    files[i]->file, db->error);
			return -1;
		}
	}

	if (run(db,
	        "SELECT set_config('role', 'none', true),"
	        " set_config('search_path', 'public', true)",
	        0, NULL, err, errlen) != 0 ||
	    import_control_plane(
	        db, ef->header, t, without_domains, err, errlen) != 0 ||
	    run(db, "SELECT set_config('role', $1, true)", 1, params + 1, err,
	        errlen) != 0) {
		return -1;
	}

	/* past the header line: the sections follow in the header's order */
	rewind(f);
	if (read_line(f, &line, &cap) < 0) {
		free(line);
		snprintf(err, errlen, "the file changed while it was read");
		return -1;
	}
	free(line);
	for (i = 0; i < json_object_array_length(tables); i++) {
		if (import_rows(db, f, t->schema, ef, err, errlen) != 0) {
			return -1;
		}
	}
	return import_sequences(db, ef->header, t->schema, err, errlen);
}

/* Refuses a subdomain or schema that this database already knows. */
static int
check_free(tn_db *db, const tn_tenant *t, char *err, size_t errlen)
{
	const char *params[2] = {t->subdomain, t->schema};
	PGresult *r;
	int taken;

	r = ask(db,
	    "SELECT EXISTS (SELECT 1 FROM public.tenants"
	    "  WHERE subdomain = $1 OR schema_name = $2 OR role_name = $2)"
	    " OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)",
	    2, params, err, errlen);
	if (r == NULL) {
		return -1;
	}
	taken = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (taken) {
		snprintf(err, errlen,
		    "the subdomain \"%s\" is taken: nothing imported",
		    t->subdomain);
		return -1;
	}
	return 0;
}

/*
 * Imports an export file as subdomain as (or its own), all or nothing,
 * then brings the schema up to this database's migrations.
 */
static int
cmd_import(tn_db *db, const tn_settings *s, const char *path, const char *as,
    int without_domains)
{
	export_file ef = {NULL, NULL, NULL};
	const tn_migration **files = NULL;
	tn_migration_set set = {NULL, 0};
	char err[1024] = "", dir[4096];
	const char *problem;
	size_t nfiles = 0;
	int applied = 0, rc = 1, open_tx = 0, reported = 0;
	tn_tenant t;
	FILE *f;

	memset(&t, 0, sizeof(t));
	ef.counted = json_object_new_object();
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, sizeof(err), "cannot open %s", path);
		goto done;
	}
	if (verify_file(f, &ef, err, sizeof(err)) != 0) {
		goto done;
	}

	snprintf(t.subdomain, sizeof(t.subdomain), "%s",
	    as ? as : member_string(ef.header, "subdomain"));
	problem = tn_tenant_label_problem(t.subdomain);
	if (problem != NULL) {
		snprintf(err, sizeof(err), "subdomain \"%s\": %s", t.subdomain,
		    problem);
		goto done;
	}
	tn_tenant_schema_name(t.subdomain, t.schema);
	memcpy(t.role, t.schema, sizeof(t.role));

	snprintf(dir, sizeof(dir), "%s/tenant", s->db_dir);
	if (tn_migrate_load(dir, &set, err, sizeof(err)) != 0) {
		goto done;
	}
	files = calloc(set.count + 1, sizeof(*files));
	if (files == NULL ||
	    export_migrations(
	        ef.header, &set, files, &nfiles, err, sizeof(err)) != 0 ||
	    check_free(db, &t, err, sizeof(err)) != 0) {
		goto done;
	}

	if (tn_db_script(db, "BEGIN") != TN_DB_OK) {
		snprintf(err, sizeof(err), "%s", db->error);
		goto done;
	}
	open_tx = 1;
	if (import_tenant(db, f, &ef, &t, files, nfiles, without_domains, err,
	        sizeof(err)) != 0) {
		goto done;
	}
	if (tn_db_script(db, "COMMIT") != TN_DB_OK) {
		snprintf(err, sizeof(err), "%s", db->error);
		goto done;
	}
	open_tx = 0;

	if (tn_migrate_schema(db, &set, t.schema, t.role, 0, NULL, &applied,
	        err, sizeof(err)) != TN_MIGRATE_OK) {
		fprintf(stderr,
		    "tenantctl: %s was imported, but migrating it failed (tenantctl migrate resumes): %s\n",
		    t.subdomain, err);
		reported = 1;
		goto done;
	}
	printf("%s: imported from %s (%s), %d later migration(s) applied\n",
	    t.subdomain, member_string(ef.header, "subdomain"), path, applied);
	rc = 0;

done:
	if (open_tx) {
		tn_db_rollback(db);
	}
	if (rc != 0 && !reported) {
		fprintf(stderr, "tenantctl: import of %s: %s\n", path, err);
	}
	if (f != NULL) {
		fclose(f);
	}
	free(files);
	tn_migrate_free(&set);
	json_object_put(ef.header);
	json_object_put(ef.trailer);
	json_object_put(ef.counted);
	return rc;
}

/* The first line of a file, without its line end; NULL when unreadable. */
static char *
read_password(const char *path)
{
	char line[2048], *out = NULL;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		return NULL;
	}
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		out = strdup(line);
	}
	fclose(f);
	sodium_memzero(line, sizeof(line));
	return out;
}

/*
 * tenant create SUBDOMAIN --name NAME --email EMAIL --password-file FILE
 * [--owner-name NAME]: the admin API's register-user, same rules, same
 * steps.
 */
static int
cmd_create(tn_db *db, const tn_settings *s, int argc, char **argv)
{
	json_object *body, *owner, *errors;
	char *password = NULL, err[512];
	tn_onboard_status os;
	tn_new_tenant nt;
	tn_tenant t;
	size_t i;
	int k, rc = 2;

	body = json_object_new_object();
	owner = json_object_new_object();
	json_object_object_add(body, "owner", owner);
	json_object_object_add(
	    body, "subdomain", json_object_new_string(argv[3]));

	for (k = 4; k + 1 < argc; k += 2) {
		if (strcmp(argv[k], "--name") == 0) {
			json_object_object_add(
			    body, "name", json_object_new_string(argv[k + 1]));
		} else if (strcmp(argv[k], "--email") == 0) {
			json_object_object_add(owner, "email",
			    json_object_new_string(argv[k + 1]));
		} else if (strcmp(argv[k], "--owner-name") == 0) {
			json_object_object_add(
			    owner, "name", json_object_new_string(argv[k + 1]));
		} else if (strcmp(argv[k], "--password-file") == 0) {
			free(password);
			password = read_password(argv[k + 1]);
			if (password == NULL) {
				fprintf(stderr,
				    "tenantctl: cannot read a password from %s\n",
				    argv[k + 1]);
				rc = 1;
				goto done;
			}
			json_object_object_add(owner, "password",
			    json_object_new_string(password));
		} else {
			break;
		}
	}
	if (k != argc) {
		fprintf(stderr, "tenantctl: tenant create: unexpected \"%s\"\n",
		    argv[k]);
		goto done;
	}

	errors = tn_onboard_parse(body, &nt);
	if (errors != NULL) {
		for (i = 0; i < json_object_array_length(errors); i++) {
			json_object *e = json_object_array_get_idx(errors, i);

			fprintf(stderr, "tenantctl: %s %s\n",
			    member_string(e, "field"),
			    member_string(e, "detail"));
		}
		json_object_put(errors);
		rc = 1;
		goto done;
	}

	os = tn_onboard_register(db, s->db_dir, &nt, &t, err, sizeof(err));
	if (os != TN_ONBOARD_OK) {
		fprintf(stderr, "tenantctl: %s: %s\n", argv[3], err);
		rc = 1;
		goto done;
	}
	printf("%s: %s\n", t.subdomain, t.status);
	rc = 0;

done:
	if (password != NULL) {
		sodium_memzero(password, strlen(password));
		free(password);
	}
	json_object_put(body);
	return rc;
}

int
tn_transfer_run(tn_db *db, const tn_settings *s, int argc, char **argv)
{
	const char *path = NULL, *as = NULL;
	int i, without_domains = 0;

	if (strcmp(argv[1], "tenant") == 0) {
		if (argc < 4) {
			tn_transfer_usage(stderr);
			return 2;
		}
		return cmd_create(db, s, argc, argv);
	}
	if (strcmp(argv[1], "export") == 0) {
		if (argc != 3) {
			tn_transfer_usage(stderr);
			return 2;
		}
		return cmd_export(db, argv[2], stdout);
	}

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
			as = argv[++i];
		} else if (strcmp(argv[i], "--without-domains") == 0) {
			without_domains = 1;
		} else if (path == NULL && argv[i][0] != '-') {
			path = argv[i];
		} else {
			path = NULL;
			break;
		}
	}
	if (path == NULL || i != argc) {
		tn_transfer_usage(stderr);
		return 2;
	}
	return cmd_import(db, s, path, as, without_domains);
}
