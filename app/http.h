/* Requests from FastCGI, JSON and problem+json responses. */
#ifndef TN_HTTP_H
#define TN_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "buf.h"
#include "db.h"
#include "settings.h"
#include "tenant.h"

/* The largest request body read; nginx refuses larger ones first. */
#define TN_HTTP_BODY_MAX (1024 * 1024)

/* How many path segments a route takes as arguments, and their size. */
#define TN_PATH_ARGS 2
#define TN_PATH_ARG  256

/* Seconds a FastCGI peer may take to send a request's records. */
#define TN_HTTP_READ_TIMEOUT 10

typedef enum {
	TN_SITE_NONE = 0, /* parameters missing: nothing is served */
	TN_SITE_MAIN,     /* the main domain: landing page and /admin */
	TN_SITE_TENANT,   /* a tenant's subdomain (TENANT) */
	TN_SITE_CUSTOM    /* any other host (TENANT_HOST) */
} tn_site;

typedef struct tn_req {
	FCGX_Request *fcgi;
	const tn_settings *settings;
	tn_db *db;

	/* from nginx */
	tn_site site;
	const char *method;
	const char *path;
	const char *query;
	const char *request_id;
	const char *tenant_key; /* TENANT or TENANT_HOST */
	const char *content_type;
	const char *content_length; /* as sent, "" when absent */
	const char *authorization;
	const char *cookie;
	const char *origin;       /* Origin header, "" when absent */
	const char *fetch_site;   /* Sec-Fetch-Site header */
	const char *request_host; /* Host as the client sent it (port too) */
	int https;
	int from_operator; /* TENANTRY_STATUS: nginx's status locations */

	char made_id[33]; /* the request id when nginx sent none */

	/* filled on the way */
	char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	int body_read;
	char path_arg[TN_PATH_ARG];  /* the route's first {name} segment */
	char path_arg2[TN_PATH_ARG]; /* and its second, if any */
	tn_tenant tenant;
	int has_tenant;
	int route; /* the route table index + 1; 0: no route */

	/* the signed-in user of a tenant request */
	char user_id[24];
	char user_role[8];
	char token_id[24];
	int via_cookie;

	/* the answer */
	int status;
	tn_buf headers;
	tn_buf out;
	double started_ms;
	double duration_ms; /* set when the answer is written */
} tn_req;

/* Fills req's request fields from the FastCGI parameters. */
void tn_http_begin(
    tn_req *req, FCGX_Request *fcgi, const tn_settings *s, tn_db *db);

/* Writes the response and releases what the request owned. */
void tn_http_finish(tn_req *req);

/* Adds a response header line ("Name: value"). */
void tn_http_header(tn_req *req, const char *name, const char *value);

/* Answers status with a JSON document (takes ownership of doc). */
void tn_http_json(tn_req *req, int status, json_object *doc);

/* Answers status with a body of the given type (copied). */
void tn_http_text(tn_req *req, int status, const char *content_type,
    const char *body, size_t len);

/* Answers status with JSON text built elsewhere (by the database). */
void tn_http_json_text(tn_req *req, int status, const char *text, size_t len);

/*
 * Copies the URL-decoded value of query parameter name into out. Returns
 * 1 when present, 0 when absent, -1 when undecodable, too long, given
 * twice or given without "=".
 */
int tn_http_query(
    const tn_req *req, const char *name, char *out, size_t outlen);

/*
 * Answers with application/problem+json. slug names the problem type (it
 * becomes part of the stable "type" URI); detail is for humans. errors,
 * when not NULL, is an array of {field, detail} (taken over).
 */
void tn_http_problem(tn_req *req, int status, const char *slug,
    const char *detail, json_object *errors);

/*
 * Reads and parses a JSON object body. Returns the object (caller puts
 * it) or NULL after answering the request with the right 4xx.
 */
json_object *tn_http_json_body(tn_req *req);

/*
 * Checks that s is strict UTF-8 (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF. json-c's own check lets some of
 * these through. Returns 1 when it is, else 0.
 */
int tn_http_utf8_valid(const unsigned char *s, size_t len);

/* The reason phrase of a status code. */
const char *tn_http_reason(int status);

/* Appends {field, detail} to an errors array, creating it when NULL. */
json_object *tn_http_field_error(
    json_object *errors, const char *field, const char *detail);

#endif
