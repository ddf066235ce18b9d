/*
 * tenantctl migrate and exec: the control plane, then every tenant's
 * schema on several connections at once, with progress and a report.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "ctl.h"
#include "migrate.h"
#include "pool.h"
#include "tenant.h"

#define JOBS_MAX 64

typedef struct {
	const char **subdomains; /* --tenant, in the order given */
	size_t nsubdomains;
	int all, jobs, dry_run, json, fail_fast;
	const char *sql; /* exec -c */
} options;

typedef struct {
	char subdomain[TN_LABEL_MAX + 1];
	char schema[TN_LABEL_MAX + 1];
	char role[TN_LABEL_MAX + 1];
	int current;         /* its digest is the folder's: nothing to do */
	json_object *report; /* its entry in the report, once known */
} target;

typedef struct {
	const options *opt;
	target *targets;
	size_t count;
	size_t *todo; /* targets that need a connection, by index */
	size_t ntodo;
	const tn_migration_set *set; /* migrate */
	const char *verb;            /* for the progress line */
	size_t finished, failed;
	double started_ms, drawn_ms;
	int tty;
} run;

static const struct option long_options[] = {
    {"tenant", required_argument, NULL, 't'},
    {"all", no_argument, NULL, 'a'},
    {"jobs", required_argument, NULL, 'j'},
    {"dry-run", no_argument, NULL, 'n'},
    {"json", no_argument, NULL, 'J'},
    {"fail-fast", no_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

/*
 * Reads the options of migrate (exec = 0) or exec (exec = 1) into opt.
 * Returns 0, or -1 after saying what is wrong. opt->subdomains points
 * into argv and is freed by the caller.
 */
static int
parse_options(int argc, char **argv, int exec, options *opt)
{
	const char *problem;
	char *end;
	long jobs;
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->jobs = 1;
	opt->subdomains = calloc((size_t)argc, sizeof(char *));
	if (opt->subdomains == NULL) {
		fprintf(stderr, "tenantctl: out of memory\n");
		return -1;
	}

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(
	            argc, argv, exec ? "c:" : "", long_options, NULL)) != -1) {
		switch (c) {
		case 't':
			problem = tn_tenant_label_problem(optarg);
			if (problem != NULL) {
				fprintf(stderr,
				    "tenantctl: --tenant \"%s\": %s\n", optarg,
				    problem);
				return -1;
			}
			opt->subdomains[opt->nsubdomains++] = optarg;
			break;
		case 'j':
			jobs = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || jobs < 1 ||
			    jobs > JOBS_MAX) {
				fprintf(stderr,
				    "tenantctl: --jobs must be a number from 1 to %d\n",
				    JOBS_MAX);
				return -1;
			}
			opt->jobs = (int)jobs;
			break;
		case 'J':
			opt->json = 1;
			break;
		case 'a':
			if (!exec) {
				goto unknown;
			}
			opt->all = 1;
			break;
		case 'c':
			if (opt->sql != NULL) {
				fprintf(stderr,
				    "tenantctl: exec runs one statement: give -c"
				    " once\n");
				return -1;
			}
			opt->sql = optarg;
			break;
		case 'n':
		case 'f':
			if (exec) {
				goto unknown;
			}
			*(c == 'n' ? &opt->dry_run : &opt->fail_fast) = 1;
			break;
		default:
			goto unknown;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tenantctl: unexpected argument \"%s\"\n",
		    argv[optind]);
		return -1;
	}
	if (exec && (opt->sql == NULL || opt->all == (opt->nsubdomains > 0))) {
		fprintf(stderr,
		    "tenantctl: exec needs -c SQL and either"
		    " --all or --tenant SUBDOMAIN\n");
		return -1;
	}
	return 0;

unknown:
	fprintf(stderr, "tenantctl: unknown or incomplete option \"%s\"\n",
	    argv[optind - 1]);
	return -1;
}

/*
 * The tenants to work on, in subdomain order: every tenant whose schema
 * exists, or those named. One query also tells which schemas already
 * carry digest and version; to_jsonb reads the columns even before the
 * control plane has them (a dry run ahead of the migration adding them).
 */
static int
load_targets(
    tn_db *db, const options *opt, const char *digest, int version, run *rn)
{
	char version_text[16];
	const char *params[3];
	tn_buf names = {0};
	tn_db_status st;
	PGresult *r;
	size_t i, k;
	int rc = -1;

	if (opt->nsubdomains > 0) {
		/* labels are [a-z0-9-]: an array literal needs no quoting */
		tn_buf_puts(&names, "{");
		for (i = 0; i < opt->nsubdomains; i++) {
			tn_buf_printf(
			    &names, "%s%s", i ? "," : "", opt->subdomains[i]);
		}
		tn_buf_puts(&names, "}");
	}
	snprintf(version_text, sizeof(version_text), "%d", version);
	params[0] = digest;
	params[1] = names.data;
	params[2] = version_text;

	r = tn_db_query(db,
	    "SELECT t.subdomain, t.schema_name, t.role_name,"
	    " (to_jsonb(t) ->> 'schema_digest') IS NOT DISTINCT FROM $1"
	    " AND (to_jsonb(t) ->> 'schema_version') = $3"
	    " FROM public.tenants t"
	    " WHERE EXISTS (SELECT 1 FROM pg_namespace n"
	    "  WHERE n.nspname = t.schema_name)"
	    " AND ($2::text[] IS NULL OR t.subdomain = ANY ($2::text[]))"
	    " ORDER BY t.subdomain",
	    3, params, &st);
	if (r == NULL) {
		fprintf(stderr, "tenantctl: listing tenants: %s\n", db->error);
		goto done;
	}

	rn->count = (size_t)PQntuples(r);
	rn->targets = calloc(rn->count + 1, sizeof(target));
	rn->todo = calloc(rn->count + 1, sizeof(size_t));
	if (rn->targets == NULL || rn->todo == NULL) {
		fprintf(stderr, "tenantctl: out of memory\n");
		goto done;
	}
	for (i = 0; i < rn->count; i++) {
		target *t = &rn->targets[i];

		snprintf(t->subdomain, sizeof(t->subdomain), "%s",
		    PQgetvalue(r, (int)i, 0));
		snprintf(t->schema, sizeof(t->schema), "%s",
		    PQgetvalue(r, (int)i, 1));
		snprintf(
		    t->role, sizeof(t->role), "%s", PQgetvalue(r, (int)i, 2));
		t->current = PQgetvalue(r, (int)i, 3)[0] == 't';
	}

	for (k = 0; k < opt->nsubdomains; k++) {
		for (i = 0; i < rn->count; i++) {
			if (strcmp(rn->targets[i].subdomain,
			        opt->subdomains[k]) == 0) {
				break;
			}
		}
		if (i == rn->count) {
			fprintf(stderr,
			    "tenantctl: no tenant \"%s\" with a schema\n",
			    opt->subdomains[k]);
			goto done;
		}
	}
	rc = 0;

done:
	PQclear(r);
	tn_buf_free(&names);
	return rc;
}

static void
free_run(run *rn)
{
	size_t i;

	for (i = 0; rn->targets != NULL && i < rn->count; i++) {
		json_object_put(rn->targets[i].report);
	}
	free(rn->targets);
	free(rn->todo);
}

/* Redraws the progress line on a terminal, at most ten times a second. */
static void
draw_progress(run *rn, int last)
{
	double now = tn_db_clock_ms(), left;

	if (!rn->tty || rn->ntodo == 0 || (!last && now - rn->drawn_ms < 100)) {
		return;
	}
	rn->drawn_ms = now;
	if (last) {
		fputs("\r\033[K", stderr);
		return;
	}

	fprintf(stderr, "\r%s: %zu/%zu tenants, %zu failed", rn->verb,
	    rn->finished, rn->ntodo, rn->failed);
	if (rn->finished > 0) {
		left = (now - rn->started_ms) / (double)rn->finished *
		    (double)(rn->ntodo - rn->finished) / 1000.0;
		fprintf(stderr, ", about %.0f s left", left);
	}
	fputs("\033[K", stderr);
}

/* A tenant's entry: who, and the job's result (or a lost job's). */
static json_object *
tenant_entry(const target *t, json_object *result)
{
	json_object *entry = result;

	if (entry == NULL) {
		entry = json_object_new_object();
		json_object_object_add(
		    entry, "status", json_object_new_string("failed"));
		json_object_object_add(entry, "error",
		    json_object_new_string("the worker handling it died"));
	}
	json_object_object_add(
	    entry, "subdomain", json_object_new_string(t->subdomain));
	json_object_object_add(
	    entry, "schema", json_object_new_string(t->schema));
	return entry;
}

static const char *
entry_string(json_object *entry, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(entry, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

/* Pool callback: keeps a tenant's result; a failure stops --fail-fast. */
static int
job_done(size_t item, json_object *result, void *ctx)
{
	run *rn = ctx;
	target *t = &rn->targets[rn->todo[item]];
	const char *status, *error;

	t->report = tenant_entry(t, result);
	rn->finished++;
	status = entry_string(t->report, "status");
	if (status == NULL || strcmp(status, "failed") == 0) {
		rn->failed++;
		error = entry_string(t->report, "error");
		draw_progress(rn, 1);
		fprintf(stderr,
		    "tenantctl: tenant %s, schema \"%s\": failed: %s\n",
		    t->subdomain, t->schema, error ? error : "no report");
	}
	draw_progress(rn, 0);
	return rn->opt->fail_fast && rn->failed > 0;
}

/*
 * The result of migrating one schema: status (migrated, unchanged,
 * pending in a dry run, failed), the versions applied (or pending), the
 * error and the time it took.
 */
static json_object *
migrate_result(tn_db *db, const tn_migration_set *set, const char *schema,
    const char *role, const options *opt)
{
	json_object *result = json_object_new_object(), *versions;
	unsigned char *marks = calloc(set->count + 1, 1);
	double t0 = tn_db_clock_ms();
	tn_migrate_status ms;
	const char *status;
	char err[1024] = "";
	int applied = 0;
	size_t i;

	if (marks == NULL) {
		ms = TN_MIGRATE_FAILED;
		snprintf(err, sizeof(err), "out of memory");
	} else {
		ms = tn_migrate_schema(db, set, schema, role,
		    opt->dry_run ? TN_MIGRATE_DRY_RUN : 0, marks, &applied, err,
		    sizeof(err));
	}

	versions = json_object_new_array();
	for (i = 0; marks != NULL && i < set->count; i++) {
		if (marks[i]) {
			json_object_array_add(versions,
			    json_object_new_string(set->files[i].version));
		}
	}
	free(marks);

	status = ms != TN_MIGRATE_OK ? "failed"
	    : applied == 0           ? "unchanged"
	    : opt->dry_run           ? "pending"
	                             : "migrated";
	json_object_object_add(
	    result, "status", json_object_new_string(status));
	json_object_object_add(result, "applied",
	    opt->dry_run ? json_object_new_array() : versions);
	if (opt->dry_run) {
		json_object_object_add(result, "pending", versions);
	}
	json_object_object_add(result, "error",
	    ms == TN_MIGRATE_OK ? NULL : json_object_new_string(err));
	json_object_object_add(result, "duration_ms",
	    json_object_new_double(tn_db_clock_ms() - t0));
	return result;
}

/* Pool job in a child: migrates one tenant's schema. */
static json_object *
migrate_job(tn_db *db, size_t item, void *ctx)
{
	run *rn = ctx;
	const target *t = &rn->targets[rn->todo[item]];

	return migrate_result(db, rn->set, t->schema, t->role, rn->opt);
}

/* Adds up the tenants' statuses into totals. */
static json_object *
totals(const run *rn, const char *const *statuses)
{
	json_object *sums = json_object_new_object(), *n;
	const char *status;
	size_t i;

	json_object_object_add(
	    sums, "tenants", json_object_new_int64((int64_t)rn->count));
	for (i = 0; statuses[i] != NULL; i++) {
		json_object_object_add(
		    sums, statuses[i], json_object_new_int64(0));
	}
	for (i = 0; i < rn->count; i++) {
		status = entry_string(rn->targets[i].report, "status");
		if (status != NULL &&
		    json_object_object_get_ex(sums, status, &n)) {
			json_object_int_inc(n, 1);
		}
	}
	return sums;
}

static long long
total_of(json_object *sums, const char *key)
{
	json_object *n;

	return json_object_object_get_ex(sums, key, &n)
	    ? (long long)json_object_get_int64(n)
	    : 0;
}

/* A version list as text: "0004 0005". */
static void
versions_text(json_object *entry, const char *key, tn_buf *out)
{
	json_object *list, *v;
	size_t i;

	tn_buf_reset(out);
	tn_buf_puts(out, "");
	if (!json_object_object_get_ex(entry, key, &list)) {
		return;
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		v = json_object_array_get_idx(list, i);
		tn_buf_printf(
		    out, "%s%s", i ? " " : "", json_object_get_string(v));
	}
}

/* One line a schema: "SCHEMA: N applied", pending, failed or skipped. */
static void
print_schema_line(const char *schema, json_object *entry, tn_buf *text)
{
	const char *status = entry_string(entry, "status");
	json_object *list;

	if (strcmp(status, "pending") == 0) {
		versions_text(entry, "pending", text);
		json_object_object_get_ex(entry, "pending", &list);
		printf("%s: %zu pending (%s)\n", schema,
		    json_object_array_length(list), text->data);
	} else if (strcmp(status, "failed") == 0 ||
	    strcmp(status, "skipped") == 0) {
		printf("%s: %s\n", schema, status);
	} else {
		json_object_object_get_ex(entry, "applied", &list);
		printf("%s: %zu applied\n", schema,
		    json_object_array_length(list));
	}
}

static void
print_json(json_object *report)
{
	puts(json_object_to_json_string_ext(
	    report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
}

/*
 * Prints the migrate report: every schema's line and the totals, or with
 * --json the whole document.
 */
static void
print_migrate(const run *rn, json_object *control, json_object *sums,
    const tn_migration_set *set, double started_ms)
{
	json_object *report, *list;
	tn_buf text = {0};
	size_t i;

	if (!rn->opt->json) {
		print_schema_line("public", control, &text);
		for (i = 0; i < rn->count; i++) {
			print_schema_line(rn->targets[i].schema,
			    rn->targets[i].report, &text);
		}
		if (sums != NULL) {
			printf("%lld tenants: %lld migrated, %lld unchanged,"
			       " %lld failed, %lld skipped, %lld pending\n",
			    total_of(sums, "tenants"),
			    total_of(sums, "migrated"),
			    total_of(sums, "unchanged"),
			    total_of(sums, "failed"), total_of(sums, "skipped"),
			    total_of(sums, "pending"));
		}
		tn_buf_free(&text);
		return;
	}

	report = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < rn->count; i++) {
		json_object_array_add(
		    list, json_object_get(rn->targets[i].report));
	}
	json_object_object_add(
	    report, "dry_run", json_object_new_boolean(rn->opt->dry_run));
	json_object_object_add(report, "schema_version",
	    json_object_new_int(tn_migrate_newest(set)));
	json_object_object_add(
	    report, "control_plane", json_object_get(control));
	json_object_object_add(report, "tenants", list);
	json_object_object_add(report, "totals",
	    sums ? json_object_get(sums) : json_object_new_object());
	json_object_object_add(report, "duration_ms",
	    json_object_new_double(tn_db_clock_ms() - started_ms));
	print_json(report);
	json_object_put(report);
}

/* Reads db_dir/part into set; says why not. */
static int
load_set(const tn_settings *s, const char *part, tn_migration_set *set)
{
	char dir[4096], err[1024];

	snprintf(dir, sizeof(dir), "%s/%s", s->db_dir, part);
	if (tn_migrate_load(dir, set, err, sizeof(err)) != 0) {
		fprintf(stderr, "tenantctl: %s\n", err);
		return -1;
	}
	return 0;
}

/* Each tenant not yet decided gets its entry: unchanged or skipped. */
static void
settle_targets(run *rn)
{
	json_object *entry;
	size_t i;

	for (i = 0; i < rn->count; i++) {
		target *t = &rn->targets[i];

		if (t->report != NULL) {
			continue;
		}
		entry = json_object_new_object();
		json_object_object_add(entry, "status",
		    json_object_new_string(
		        t->current ? "unchanged" : "skipped"));
		json_object_object_add(
		    entry, "applied", json_object_new_array());
		json_object_object_add(entry, "error", NULL);
		json_object_object_add(
		    entry, "duration_ms", json_object_new_double(0));
		t->report = tenant_entry(t, entry);
	}
}

/*
 * Starts the children on the tenants in rn->todo; returns -1 when they
 * could not start.
 */
static int
run_pool(run *rn, const tn_settings *s, tn_pool_job job)
{
	char err[256];

	rn->tty = isatty(STDERR_FILENO);
	rn->started_ms = tn_db_clock_ms();
	draw_progress(rn, 0);
	if (tn_pool_run(s->database_url, rn->opt->jobs, rn->ntodo, job,
	        job_done, rn, err, sizeof(err)) != TN_POOL_OK) {
		draw_progress(rn, 1);
		fprintf(stderr, "tenantctl: %s\n", err);
		return -1;
	}
	draw_progress(rn, 1);
	return 0;
}

/*
 * Reads the options of migrate (exec 0) or exec (1) into opt and starts an
 * empty run on them. Returns -1 after printing what is wrong.
 */
static int
begin_run(int argc, char **argv, int exec, options *opt, run *rn)
{
	memset(rn, 0, sizeof(*rn));
	if (parse_options(argc, argv, exec, opt) != 0) {
		free(opt->subdomains);
		return -1;
	}
	rn->opt = opt;
	return 0;
}

int
tn_ctl_migrate(tn_db *db, const tn_settings *s, int argc, char **argv)
{
	static const char *const statuses[] = {
	    "migrated", "unchanged", "failed", "skipped", "pending", NULL};
	tn_migration_set public_set = {0}, tenant_set = {0};
	json_object *control = NULL, *sums = NULL;
	double started_ms = tn_db_clock_ms();
	const char *status;
	char err[1024];
	options opt;
	run rn;
	size_t i;
	int rc = 1;

	if (begin_run(argc, argv, 0, &opt, &rn) != 0) {
		return 2;
	}
	rn.set = &tenant_set;
	rn.verb = opt.dry_run ? "checking" : "migrating";

	if (load_set(s, "public", &public_set) != 0 ||
	    load_set(s, "tenant", &tenant_set) != 0) {
		goto done;
	}

	if (!opt.dry_run &&
	    tn_migrate_bootstrap(db, err, sizeof(err)) != TN_MIGRATE_OK) {
		fprintf(stderr, "tenantctl: %s\n", err);
		goto done;
	}

	/* the control plane first: tenants' rows may need its changes */
	control = migrate_result(db, &public_set, "public", NULL, &opt);
	json_object_object_add(
	    control, "schema", json_object_new_string("public"));
	status = entry_string(control, "status");
	if (strcmp(status, "failed") == 0) {
		fprintf(stderr, "tenantctl: schema \"public\": failed: %s\n",
		    entry_string(control, "error"));
		print_migrate(&rn, control, NULL, &tenant_set, started_ms);
		goto done;
	}

	if (load_targets(db, &opt, tn_migrate_digest(&tenant_set),
	        tn_migrate_newest(&tenant_set), &rn) != 0) {
		goto done;
	}
	for (i = 0; i < rn.count; i++) {
		if (!rn.targets[i].current) {
			rn.todo[rn.ntodo++] = i;
		}
	}

	/* the children have connections of their own */
	tn_db_close(db);
	if (run_pool(&rn, s, migrate_job) != 0) {
		goto done;
	}

	settle_targets(&rn);
	sums = totals(&rn, statuses);
	print_migrate(&rn, control, sums, &tenant_set, started_ms);
	rc = total_of(sums, "failed") + total_of(sums, "skipped") > 0;

done:
	json_object_put(control);
	json_object_put(sums);
	free_run(&rn);
	free(opt.subdomains);
	tn_migrate_free(&public_set);
	tn_migrate_free(&tenant_set);
	return rc;
}

/*
 * Pool job in a child: runs the statement in the tenant's scope, as its
 * role, in one transaction; reports the command tag and its row count.
 */
static json_object *
exec_job(tn_db *db, size_t item, void *ctx)
{
	run *rn = ctx;
	const target *t = &rn->targets[rn->todo[item]];
	json_object *result = json_object_new_object();
	double t0 = tn_db_clock_ms();
	PGresult *r = NULL;
	tn_db_status st;

	st = tn_db_begin_scoped(db, t->schema, t->role);
	if (st == TN_DB_OK) {
		r = tn_db_exec(db, rn->opt->sql, 0, NULL, 1, &st);
	}
	if (st != TN_DB_OK) {
		tn_db_rollback(db);
	}

	json_object_object_add(result, "status",
	    json_object_new_string(r != NULL ? "ok" : "failed"));
	json_object_object_add(result, "command",
	    r != NULL ? json_object_new_string(PQcmdStatus(r)) : NULL);
	json_object_object_add(result, "rows",
	    r != NULL ? json_object_new_int64(atoll(PQcmdTuples(r))) : NULL);
	json_object_object_add(result, "error",
	    r != NULL
	        ? NULL
	        : json_object_new_string(
	              st == TN_DB_DOWN ? "database unavailable" : db->error));
	json_object_object_add(result, "duration_ms",
	    json_object_new_double(tn_db_clock_ms() - t0));
	PQclear(r);
	return result;
}

static void
print_exec(const run *rn, json_object *sums, double started_ms)
{
	json_object *report, *list, *entry;
	size_t i;

	if (!rn->opt->json) {
		for (i = 0; i < rn->count; i++) {
			entry = rn->targets[i].report;
			if (strcmp(entry_string(entry, "status"), "ok") == 0) {
				printf("%s: %s\n", rn->targets[i].subdomain,
				    entry_string(entry, "command"));
			} else {
				printf(
				    "%s: failed\n", rn->targets[i].subdomain);
			}
		}
		printf("%lld tenants: %lld ok, %lld failed\n",
		    total_of(sums, "tenants"), total_of(sums, "ok"),
		    total_of(sums, "failed"));
		return;
	}

	report = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < rn->count; i++) {
		json_object_array_add(
		    list, json_object_get(rn->targets[i].report));
	}
	json_object_object_add(report, "tenants", list);
	json_object_object_add(report, "totals", json_object_get(sums));
	json_object_object_add(report, "duration_ms",
	    json_object_new_double(tn_db_clock_ms() - started_ms));
	print_json(report);
	json_object_put(report);
}

int
tn_ctl_exec(tn_db *db, const tn_settings *s, int argc, char **argv)
{
	static const char *const statuses[] = {"ok", "failed", NULL};
	double started_ms = tn_db_clock_ms();
	json_object *sums = NULL;
	options opt;
	run rn;
	size_t i;
	int rc = 1;

	if (begin_run(argc, argv, 1, &opt, &rn) != 0) {
		return 2;
	}
	rn.verb = "running";

	if (load_targets(db, &opt, "", 0, &rn) != 0) {
		goto done;
	}
	for (i = 0; i < rn.count; i++) {
		rn.todo[rn.ntodo++] = i;
	}

	tn_db_close(db);
	if (run_pool(&rn, s, exec_job) != 0) {
		goto done;
	}

	/* every tenant was handed out: none is left without an entry */
	sums = totals(&rn, statuses);
	print_exec(&rn, sums, started_ms);
	rc = total_of(sums, "failed") > 0 ||
	    total_of(sums, "ok") != (long long)rn.count;

done:
	json_object_put(sums);
	free_run(&rn);
	free(opt.subdomains);
	return rc;
}
