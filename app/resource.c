/* What the tenant API's resources share: ids, ETags, cursors, lists. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "handlers.h"
#include "resource.h"

int
tn_resource_id(const char *text, char out[24])
{
	size_t len = strlen(text);

	if (len == 0 || len > 18 || text[0] == '0' ||
	    strspn(text, "0123456789") != len) {
		return -1;
	}
	memcpy(out, text, len + 1);
	return 0;
}

int
tn_resource_if_match(const tn_req *req, char kind, const char *id, char out[16])
{
	const char *given = FCGX_GetParam("HTTP_IF_MATCH", req->fcgi->envp);
	char want[40];
	size_t idlen, vlen;

	if (given == NULL || *given == '\0' || strcmp(given, "*") == 0) {
		return 0;
	}

	snprintf(want, sizeof(want), "\"%c%sv", kind, id);
	idlen = strlen(want);
	if (strncmp(given, want, idlen) != 0) {
		return -1;
	}

	given += idlen;
	vlen = strspn(given, "0123456789");
	if (vlen == 0 || vlen >= 10 || strcmp(given + vlen, "\"") != 0) {
		return -1;
	}

	memcpy(out, given, vlen);
	out[vlen] = '\0';
	return 1;
}

void
tn_resource_etag(tn_req *req, char kind, const char *id, const char *version)
{
	char etag[64];

	snprintf(etag, sizeof(etag), "\"%c%sv%s\"", kind, id, version);
	tn_http_header(req, "ETag", etag);
}

void
tn_resource_answer(tn_req *req, int status, const PGresult *r, char kind)
{
	tn_http_json_text(
	    req, status, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	if (kind != 0) {
		tn_resource_etag(
		    req, kind, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	}
}

int
tn_resource_invalid(tn_req *req, json_object *errors)
{
	json_object *first = json_object_array_get_idx(errors, 0);
	char detail[320];

	snprintf(detail, sizeof(detail), "%s: %s",
	    json_object_get_string(json_object_object_get(first, "field")),
	    json_object_get_string(json_object_object_get(first, "detail")));
	tn_http_problem(req, 422, "validation-failed", detail, errors);
	return -1;
}

static int
invalid_param(tn_req *req, const char *field, const char *detail)
{
	json_object *errors = tn_http_field_error(NULL, field, detail);

	return tn_resource_invalid(req, errors);
}

int
tn_resource_limit(tn_req *req, long *limit)
{
	char text[16], *end;
	int found;

	*limit = 50;
	found = tn_http_query(req, "limit", text, sizeof(text));
	if (found == 0) {
		return 0;
	}

	*limit = found > 0 ? strtol(text, &end, 10) : 0;
	if (found < 0 || *end != '\0' || *limit < 1 || *limit > 100) {
		return invalid_param(
		    req, "limit", "must be an integer from 1 to 100");
	}
	return 0;
}

int
tn_resource_cursor_decode(const char *text, char kind, long long *values, int n)
{
	char plain[96], *p, *end;
	size_t len;
	int i;

	if (sodium_base642bin((unsigned char *)plain, sizeof(plain) - 1, text,
	        strlen(text), NULL, &len, NULL,
	        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		return -1;
	}
	plain[len] = '\0';
	if (plain[0] != kind || plain[1] != ':') {
		return -1;
	}

	p = plain + 2;
	for (i = 0; i < n; i++) {
		if (*p < '0' || *p > '9') {
			return -1;
		}
		errno = 0;
		values[i] = strtoll(p, &end, 10);
		if (end == p || errno != 0 ||
		    (i < n - 1 ? *end != ':' : *end != '\0')) {
			return -1;
		}
		p = end + 1;
	}
	return 0;
}

int
tn_resource_cursor(tn_req *req, char kind, long long *values, int n)
{
	char text[128];
	int found;

	found = tn_http_query(req, "cursor", text, sizeof(text));
	if (found == 0) {
		return 0;
	}
	if (found < 0 ||
	    tn_resource_cursor_decode(text, kind, values, n) != 0) {
		invalid_param(req, "cursor",
		    "is not a cursor of this list (take next_cursor as it is)");
		return -1;
	}
	return 1;
}

int
tn_resource_page(tn_req *req, char kind, const char *start, tn_page *page)
{
	long long cursor;
	int found;

	if (tn_resource_limit(req, &page->limit) != 0) {
		return -1;
	}
	found = tn_resource_cursor(req, kind, &cursor, 1);
	if (found < 0) {
		return -1;
	}
	if (found) {
		snprintf(page->from, sizeof(page->from), "%lld", cursor);
	} else {
		snprintf(page->from, sizeof(page->from), "%s", start);
	}
	snprintf(page->fetch, sizeof(page->fetch), "%ld", page->limit + 1);
	return 0;
}

void
tn_resource_cursor_encode(
    char kind, const char *const *values, int n, char *out, size_t outlen)
{
	char plain[96];
	size_t used;
	int i;

	used = (size_t)snprintf(plain, sizeof(plain), "%c", kind);
	for (i = 0; i < n && used < sizeof(plain); i++) {
		used += (size_t)snprintf(
		    plain + used, sizeof(plain) - used, ":%s", values[i]);
	}
	sodium_bin2base64(out, outlen, (const unsigned char *)plain,
	    strlen(plain), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
cursor_text(
    const PGresult *r, int row, char kind, int n, char *out, size_t outlen)
{
	const char *values[TN_CURSOR_VALUES];
	int i;

	for (i = 0; i < n && i < TN_CURSOR_VALUES; i++) {
		values[i] = PQgetvalue(r, row, i + 1);
	}
	tn_resource_cursor_encode(kind, values, i, out, outlen);
}

void
tn_resource_list(tn_req *req, const char *name, const PGresult *r, long limit,
    char kind, int n)
{
	int rows = PQntuples(r), shown, i;
	char cursor[160];
	tn_buf doc = {0};

	shown = rows > limit ? (int)limit : rows;

	tn_buf_printf(&doc, "{\"%s\":[", name);
	for (i = 0; i < shown; i++) {
		if (i > 0) {
			tn_buf_append(&doc, ",", 1);
		}
		tn_buf_append(
		    &doc, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
	}

	if (rows > limit) {
		cursor_text(r, shown - 1, kind, n, cursor, sizeof(cursor));
		tn_buf_printf(&doc, "],\"next_cursor\":\"%s\"}", cursor);
	} else {
		tn_buf_puts(&doc, "],\"next_cursor\":null}");
	}

	tn_http_json_text(req, 200, doc.data, doc.len);
	tn_buf_free(&doc);
}

void
tn_resource_no_content(tn_req *req)
{
	req->status = 204;
	tn_buf_reset(&req->out);
}

/*
 * Answers a change that matched no row: 404 when the resource is gone,
 * 412 when it is there but If-Match named an older version.
 */
void
tn_resource_missed(
    tn_req *req, const char *table, const char *id, const char *what)
{
	const char *params[1] = {id};
	char sql[96], detail[96];
	tn_db_status st;
	PGresult *r;
	int exists;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = $1", table);
	r = tn_db_exec(req->db, sql, 1, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	exists = PQntuples(r) == 1;
	PQclear(r);

	if (exists) {
		snprintf(detail, sizeof(detail),
		    "the %s changed since it was read (If-Match); read it again",
		    what);
		tn_http_problem(req, 412, "precondition-failed", detail, NULL);
	} else {
		snprintf(detail, sizeof(detail), "no such %s", what);
		tn_http_problem(req, 404, "not-found", detail, NULL);
	}
}

void
tn_resource_delete(tn_req *req, const char *sql, int nparams,
    const char *const *params, const char *what)
{
	char detail[64];
	tn_db_status st;
	PGresult *r;
	int gone;

	r = tn_db_exec(req->db, sql, nparams, params, 1, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	gone = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);

	if (!gone) {
		snprintf(detail, sizeof(detail), "no such %s", what);
		tn_http_problem(req, 404, "not-found", detail, NULL);
		return;
	}
	tn_resource_no_content(req);
}

void
tn_resource_read(tn_req *req, int status, const char *sql, int nparams,
    const char *const *params, char kind, const char *what)
{
	char detail[64];
	tn_db_status st;
	PGresult *r;

	r = tn_db_exec(req->db, sql, nparams, params, 1, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	if (PQntuples(r) == 0) {
		snprintf(detail, sizeof(detail), "no such %s", what);
		tn_http_problem(req, 404, "not-found", detail, NULL);
	} else {
		tn_resource_answer(req, status, r, kind);
	}
	PQclear(r);
}
