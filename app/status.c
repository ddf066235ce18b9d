/*
 * The operator's view of tenantd: GET /status (text; ?json, ?full) and
 * GET /metrics (Prometheus text format), both read from the scoreboard.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "handlers.h"
#include "log.h"
#include "router.h"
#include "scoreboard.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* True when the query string holds name, bare or as name=value. */
static int
has_flag(const char *query, const char *name)
{
	size_t n = strlen(name), len;
	const char *p = query;

	while (*p != '\0') {
		len = strcspn(p, "&");
		if (len >= n && strncmp(p, name, n) == 0 &&
		    (len == n || p[n] == '=')) {
			return 1;
		}
		p += len;
		if (*p == '&') {
			p++;
		}
	}
	return 0;
}

/* Writes a wall-clock time in ms as 2026-12-04T15:34:38.236Z. */
static const char *
iso_time(char *out, size_t outlen, int64_t ms)
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);
	size_t len;

	gmtime_r(&secs, &tm);
	len = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, outlen - len, ".%03dZ", (int)(ms % 1000));
	return out;
}

/* One figure of the pool: its JSON name, its label on the text page. */
typedef struct {
	const char *key;
	const char *label;
	int64_t value;
} pool_field;

enum { POOL_FIELDS = 13 };

/* The pool's figures after its start time, in the order both pages use. */
static void
pool_fields(const tn_sb_pool *pool, pool_field f[POOL_FIELDS])
{
	const tn_sb_counters *c = &pool->counters;
	int i, active, total = 0;

	active = pool->by_state[TN_WORKER_READING] +
	    pool->by_state[TN_WORKER_WORKING] +
	    pool->by_state[TN_WORKER_FINISHING];
	for (i = 1; i < TN_WORKER_STATES; i++) {
		total += pool->by_state[i];
	}

	f[0] =
	    (pool_field){"start_since", "start since", (int64_t)pool->uptime_s};
	f[1] = (pool_field){"accepted", "accepted", (int64_t)c->accepted};
	f[2] = (pool_field){"listen_queue", "listen queue", c->listen_queue};
	f[3] = (pool_field){
	    "max_listen_queue", "max listen queue", c->listen_queue_max};
	f[4] = (pool_field){
	    "listen_queue_len", "listen queue len", c->listen_queue_limit};
	f[5] = (pool_field){
	    "idle_workers", "idle workers", pool->by_state[TN_WORKER_IDLE]};
	f[6] = (pool_field){"active_workers", "active workers", active};
	f[7] = (pool_field){"total_workers", "total workers", total};
	f[8] = (pool_field){
	    "configured_workers", "configured workers", pool->workers};
	f[9] = (pool_field){
	    "all_workers_busy", "all workers busy", (int64_t)c->all_busy};
	f[10] = (pool_field){"restarts", "restarts", (int64_t)c->restarts};
	f[11] = (pool_field){"recycles", "recycles", (int64_t)c->recycles};
	f[12] = (pool_field){NULL, NULL, 0};
}

static int
has_request(const tn_sb_worker *w)
{
	return w->state == TN_WORKER_WORKING || w->state == TN_WORKER_FINISHING;
}

/* A number of milliseconds with two decimals, as the text page has it. */
static json_object *
json_ms(double ms)
{
	char text[32];

	snprintf(text, sizeof(text), "%.2f", ms);
	return json_object_new_double_s(ms, text);
}

static json_object *
worker_json(const tn_sb_worker *w)
{
	json_object *o, *r = NULL;
	char when[40], path[4 * TN_SB_PATH], tenant[4 * TN_SB_TENANT];
	char method[4 * TN_SB_METHOD];

	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(w->pid));
	json_object_object_add(o, "state",
	    json_object_new_string(tn_scoreboard_state_name(w->state)));
	json_object_object_add(o, "start_time",
	    json_object_new_string(
	        iso_time(when, sizeof(when), w->started_ms)));
	json_object_object_add(
	    o, "requests", json_object_new_int64((int64_t)w->requests));
	json_object_object_add(
	    o, "request_duration_ms", json_ms(w->duration_ms));

	if (has_request(w)) {
		r = json_object_new_object();
		json_object_object_add(r, "method",
		    json_object_new_string(
		        tn_log_escape(method, sizeof(method), w->method)));
		json_object_object_add(r, "path",
		    json_object_new_string(
		        tn_log_escape(path, sizeof(path), w->path)));
		json_object_object_add(r, "tenant",
		    *w->tenant == '\0'
		        ? NULL
		        : json_object_new_string(tn_log_escape(
		              tenant, sizeof(tenant), w->tenant)));
	}
	json_object_object_add(o, "request", r);
	return o;
}

static void
status_json(tn_req *req, const tn_sb_pool *pool, int nslots)
{
	json_object *doc, *workers;
	pool_field f[POOL_FIELDS];
	tn_sb_worker w;
	char when[40];
	int i;

	doc = json_object_new_object();
	json_object_object_add(doc, "pool", json_object_new_string("tenantd"));
	json_object_object_add(doc, "start_time",
	    json_object_new_string(
	        iso_time(when, sizeof(when), pool->started_ms)));
	pool_fields(pool, f);
	for (i = 0; f[i].key != NULL; i++) {
		json_object_object_add(
		    doc, f[i].key, json_object_new_int64(f[i].value));
	}

	workers = json_object_new_array();
	for (i = 0; i < nslots; i++) {
		if (tn_scoreboard_worker(i, &w) == 0) {
			json_object_array_add(workers, worker_json(&w));
		}
	}
	json_object_object_add(doc, "workers", workers);

	tn_http_json(req, 200, doc);
}

/* One line per worker, or with full a block of fields like the pool's. */
static void
worker_text(tn_buf *b, const tn_sb_worker *w, int full)
{
	char when[40], path[4 * TN_SB_PATH], tenant[4 * TN_SB_TENANT];
	char method[4 * TN_SB_METHOD];
	int busy = has_request(w);

	tn_log_escape(method, sizeof(method), busy ? w->method : "-");
	tn_log_escape(path, sizeof(path), busy ? w->path : "-");
	tn_log_escape(
	    tenant, sizeof(tenant), busy && *w->tenant ? w->tenant : "-");

	if (!full) {
		tn_buf_printf(b, "%-8d %-10s %10llu %12.2f  %s %s %s\n", w->pid,
		    tn_scoreboard_state_name(w->state),
		    (unsigned long long)w->requests, w->duration_ms, method,
		    path, tenant);
		return;
	}

	tn_buf_printf(b,
	    "\n************************\n"
	    "pid:                  %d\n"
	    "state:                %s\n"
	    "start time:           %s\n"
	    "requests:             %llu\n"
	    "request duration ms:  %.2f\n"
	    "request method:       %s\n"
	    "request path:         %s\n"
	    "tenant:               %s\n",
	    w->pid, tn_scoreboard_state_name(w->state),
	    iso_time(when, sizeof(when), w->started_ms),
	    (unsigned long long)w->requests, w->duration_ms, method, path,
	    tenant);
}

static void
status_text(tn_req *req, const tn_sb_pool *pool, int nslots, int full)
{
	tn_buf b = {0};
	pool_field f[POOL_FIELDS];
	tn_sb_worker w;
	char when[40], label[32];
	int i;

	tn_buf_printf(&b, "%-22s%s\n%-22s%s\n", "pool:", "tenantd",
	    "start time:", iso_time(when, sizeof(when), pool->started_ms));
	pool_fields(pool, f);
	for (i = 0; f[i].key != NULL; i++) {
		snprintf(label, sizeof(label), "%s:", f[i].label);
		tn_buf_printf(&b, "%-22s%lld\n", label, (long long)f[i].value);
	}

	if (!full) {
		tn_buf_printf(&b, "\n%-8s %-10s %10s %12s  %s\n", "pid",
		    "state", "requests", "duration_ms", "request");
	}
	for (i = 0; i < nslots; i++) {
		if (tn_scoreboard_worker(i, &w) == 0) {
			worker_text(&b, &w, full);
		}
	}

	tn_http_text(req, 200, "text/plain; charset=utf-8", b.data, b.len);
	tn_buf_free(&b);
}

void
tn_status_page(tn_req *req)
{
	const tn_scoreboard *sb = tn_scoreboard_get();
	tn_sb_pool pool;

	if (sb == NULL) {
		tn_http_problem(req, 503, "unavailable",
		    "this process keeps no scoreboard", NULL);
		return;
	}

	tn_scoreboard_sample_queue();
	tn_scoreboard_pool(&pool);
	if (has_flag(req->query, "json")) {
		status_json(req, &pool, sb->nslots);
	} else {
		status_text(
		    req, &pool, sb->nslots, has_flag(req->query, "full"));
	}
}

static void
metric_head(tn_buf *b, const char *name, const char *type, const char *help)
{
	tn_buf_printf(
	    b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes one histogram's _bucket, _sum and _count lines. */
static void
histogram(
    tn_buf *b, const char *name, const char *labels, const tn_sb_histogram *h)
{
	uint64_t cumulative = 0;
	int i;

	for (i = 0; i < TN_SB_BUCKETS; i++) {
		cumulative += h->buckets[i];
		if (i < TN_SB_BUCKETS - 1) {
			tn_buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name,
			    labels, tn_scoreboard_bucket_le(i),
			    (unsigned long long)cumulative);
		} else {
			tn_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n",
			    name, labels, (unsigned long long)cumulative);
		}
	}
	tn_buf_printf(
	    b, "%s_sum{%s} %.6f\n", name, labels, (double)h->sum_us / 1e6);
	tn_buf_printf(b, "%s_count{%s} %llu\n", name, labels,
	    (unsigned long long)cumulative);
}

static uint64_t
count_of(const tn_sb_histogram *h)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < TN_SB_BUCKETS; i++) {
		n += h->buckets[i];
	}
	return n;
}

/* The labels of a route: its method and pattern; route 0 is none. */
static void
route_labels(char *out, size_t outlen, int route)
{
	const char *method = "-", *pattern = "unmatched";

	if (route > 0 && tn_router_route(route, &method, &pattern) != 0) {
		method = "-";
		pattern = "unmatched";
	}
	snprintf(out, outlen, "method=\"%s\",route=\"%s\"", method, pattern);
}

/* A metric with one unlabelled sample. */
static void
scalar(tn_buf *b, const char *name, const char *type, const char *help,
    uint64_t value)
{
	metric_head(b, name, type, help);
	tn_buf_printf(b, "%s %llu\n", name, (unsigned long long)value);
}

static void
pool_metrics(tn_buf *b, const tn_sb_pool *pool)
{
	const tn_sb_counters *c = &pool->counters;
	int i;

	metric_head(b, "tenantd_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	tn_buf_printf(b, "tenantd_start_time_seconds %.3f\n",
	    (double)pool->started_ms / 1000.0);
	scalar(b, "tenantd_requests_total", "counter",
	    "Requests the workers accepted.", c->accepted);

	metric_head(b, "tenantd_workers", "gauge", "Workers by state.");
	for (i = 1; i < TN_WORKER_STATES; i++) {
		tn_buf_printf(b, "tenantd_workers{state=\"%s\"} %d\n",
		    tn_scoreboard_state_name((tn_worker_state)i),
		    pool->by_state[i]);
	}

	scalar(b, "tenantd_workers_configured", "gauge",
	    "Workers the master keeps running (TENANTD_WORKERS).",
	    (uint64_t)pool->workers);
	scalar(b, "tenantd_all_workers_busy_total", "counter",
	    "Requests accepted while no other worker was idle.", c->all_busy);
	scalar(b, "tenantd_worker_restarts_total", "counter",
	    "Workers started again after a crash.", c->restarts);
	scalar(b, "tenantd_worker_recycles_total", "counter",
	    "Workers replaced after TENANTD_MAX_REQUESTS requests.",
	    c->recycles);
	scalar(b, "tenantd_listen_queue", "gauge",
	    "Connections waiting in the listening socket's queue.",
	    c->listen_queue);
	scalar(b, "tenantd_listen_queue_max", "gauge",
	    "The longest listen queue seen since the master started.",
	    c->listen_queue_max);
	scalar(b, "tenantd_listen_queue_limit", "gauge",
	    "The listening socket's backlog.", c->listen_queue_limit);
}

static void
request_metrics(tn_buf *b)
{
	tn_sb_histogram h;
	uint64_t trips[TN_SB_ROUTES];
	char labels[160], all[200];
	int r, c, code;

	metric_head(b, "tenantd_request_duration_seconds", "histogram",
	    "Time from a request's parameters to its answer, by route and "
	    "status code.");
	for (r = 0; r < TN_SB_ROUTES; r++) {
		route_labels(labels, sizeof(labels), r);
		for (c = 0; c < TN_SB_CODES; c++) {
			tn_scoreboard_sum(r, c, &h, NULL);
			if (count_of(&h) == 0) {
				continue;
			}
			code = tn_scoreboard_code(c);
			if (code == 0) {
				snprintf(all, sizeof(all), "%s,code=\"other\"",
				    labels);
			} else {
				snprintf(all, sizeof(all), "%s,code=\"%d\"",
				    labels, code);
			}
			histogram(
			    b, "tenantd_request_duration_seconds", all, &h);
		}
	}

	metric_head(b, "tenantd_db_duration_seconds", "histogram",
	    "Time a request waited for the database, by route.");
	for (r = 0; r < TN_SB_ROUTES; r++) {
		tn_scoreboard_sum(r, -1, &h, &trips[r]);
		if (count_of(&h) == 0) {
			trips[r] = UINT64_MAX;
			continue;
		}
		route_labels(labels, sizeof(labels), r);
		histogram(b, "tenantd_db_duration_seconds", labels, &h);
	}

	metric_head(b, "tenantd_db_round_trips_total", "counter",
	    "Round trips to the database, by route.");
	for (r = 0; r < TN_SB_ROUTES; r++) {
		if (trips[r] == UINT64_MAX) {
			continue;
		}
		route_labels(labels, sizeof(labels), r);
		tn_buf_printf(b, "tenantd_db_round_trips_total{%s} %llu\n",
		    labels, (unsigned long long)trips[r]);
	}
}

void
tn_status_metrics(tn_req *req)
{
	tn_buf b = {0};
	tn_sb_pool pool;

	if (tn_scoreboard_get() == NULL) {
		tn_http_problem(req, 503, "unavailable",
		    "this process keeps no scoreboard", NULL);
		return;
	}

	tn_scoreboard_sample_queue();
	tn_scoreboard_pool(&pool);
	pool_metrics(&b, &pool);
	request_metrics(&b);

	tn_http_text(req, 200, METRICS_TYPE, b.data, b.len);
	tn_buf_free(&b);
}
