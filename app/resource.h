/* What the tenant API's resources share: ids, ETags, cursors, lists. */
#ifndef TN_RESOURCE_H
#define TN_RESOURCE_H

#include <stddef.h>

#include "http.h"

/*
 * Takes a resource id from text: decimal digits, 1 to 18 of them, not
 * starting with 0. Returns 0 with the canonical text in out, else -1.
 */
int tn_resource_id(const char *text, char out[24]);

/*
 * Reads If-Match for a resource of the given kind ('p', 't') and id.
 * Returns 1 with the version it names in out, 0 when there is no
 * If-Match (or "*"), -1 when it names another resource or is malformed
 * (the caller answers 412).
 */
int tn_resource_if_match(
    const tn_req *req, char kind, const char *id, char out[16]);

/* Sets the ETag of a resource: "<kind><id>v<version>". */
void tn_resource_etag(
    tn_req *req, char kind, const char *id, const char *version);

/*
 * Answers with one JSON document from column 0 of r, and an ETag from
 * columns 1 (id) and 2 (version) when kind is not 0.
 */
void tn_resource_answer(tn_req *req, int status, const PGresult *r, char kind);

/* Reads ?limit= (1..100, default 50); answers 422 and returns -1. */
int tn_resource_limit(tn_req *req, long *limit);

/*
 * Decodes ?cursor= into the n integers it carries. Returns 1 when there
 * is one, 0 when absent, -1 after answering 422 for a bad one.
 */
int tn_resource_cursor(tn_req *req, char kind, long long *values, int n);

/* One page of a list keyed by id, as the query string asks for it. */
typedef struct {
	long limit;     /* rows to answer with */
	char from[24];  /* the cursor's id, or the start given */
	char fetch[24]; /* limit + 1 as text: the extra row tells "more" */
} tn_page;

/*
 * Reads ?limit= and a one-value ?cursor= of kind into page; without a
 * cursor, from is start. Returns -1 after answering 422.
 */
int tn_resource_page(tn_req *req, char kind, const char *start, tn_page *page);

/* The most values a cursor carries. */
#define TN_CURSOR_VALUES 4

/*
 * Writes the cursor text for kind and n decimal values: "<kind>:v1:v2"
 * in base64url without padding. out should hold 160 bytes.
 */
void tn_resource_cursor_encode(
    char kind, const char *const *values, int n, char *out, size_t outlen);

/*
 * Decodes cursor text made by tn_resource_cursor_encode for kind into n
 * non-negative values. Returns 0, or -1 when it is not such a cursor.
 */
int tn_resource_cursor_decode(
    const char *text, char kind, long long *values, int n);

/*
 * Answers {"<name>": [docs...], "next_cursor": ...} from the rows of r:
 * column 0 the document, columns 1..n the cursor values. r holds up to
 * limit + 1 rows; one more than limit means there is a next page.
 */
void tn_resource_list(tn_req *req, const char *name, const PGresult *r,
    long limit, char kind, int n);

/*
 * Answers a change that matched no row of table: 404 when the resource
 * is gone, 412 when it is there but If-Match named an older version.
 */
void tn_resource_missed(
    tn_req *req, const char *table, const char *id, const char *what);

/*
 * Runs a query of one row in the open transaction, commits and answers
 * it as tn_resource_answer does; 404 ("no such <what>") for no row.
 */
void tn_resource_read(tn_req *req, int status, const char *sql, int nparams,
    const char *const *params, char kind, const char *what);

/*
 * Runs a DELETE of one row in the open transaction and commits: 204 when
 * it removed the row, 404 ("no such <what>") when there was none.
 */
void tn_resource_delete(tn_req *req, const char *sql, int nparams,
    const char *const *params, const char *what);

/* Answers 204 No Content. */
void tn_resource_no_content(tn_req *req);

/* Answers 422 with the collected errors; returns -1 for convenience. */
int tn_resource_invalid(tn_req *req, json_object *errors);

#endif
