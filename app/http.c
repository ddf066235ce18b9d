/* Requests from FastCGI, JSON and problem+json responses. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "http.h"
#include "log.h"

#define TN_PROBLEM_BASE "https://tenantry.dev/problems/"

/* Deepest JSON nesting a request body may have. */
#define TN_JSON_DEPTH 16

/*
 * The response buffers outlive the request, so a worker does not
 * allocate them anew each time; one grown past this is given back.
 */
#define TN_HTTP_KEEP_BUF (64 * 1024)

static tn_buf kept_headers, kept_out;

/* The FastCGI parameters a request reads, by their index in it. */
enum {
	P_SITE,
	P_METHOD,
	P_URI,
	P_QUERY,
	P_REQUEST_ID,
	P_CONTENT_TYPE,
	P_CONTENT_LENGTH,
	P_AUTHORIZATION,
	P_COOKIE,
	P_ORIGIN,
	P_FETCH_SITE,
	P_REQUEST_HOST,
	P_HOST,
	P_HTTPS,
	P_TENANT,
	P_TENANT_HOST,
	P_STATUS_MARK,
	P_COUNT
};

#define PARAM(name)                                                            \
	{                                                                      \
		name, sizeof(name) - 1                                         \
	}

static const struct {
	const char *name;
	size_t len;
} wanted_params[P_COUNT] = {
    PARAM("TENANTRY_SITE"),
    PARAM("REQUEST_METHOD"),
    PARAM("DOCUMENT_URI"),
    PARAM("QUERY_STRING"),
    PARAM("REQUEST_ID"),
    PARAM("CONTENT_TYPE"),
    PARAM("CONTENT_LENGTH"),
    PARAM("HTTP_AUTHORIZATION"),
    PARAM("HTTP_COOKIE"),
    PARAM("HTTP_ORIGIN"),
    PARAM("HTTP_SEC_FETCH_SITE"),
    PARAM("REQUEST_HOST"),
    PARAM("HTTP_HOST"),
    PARAM("HTTPS"),
    PARAM("TENANT"),
    PARAM("TENANT_HOST"),
    PARAM("TENANTRY_STATUS"),
};

/*
 * Finds every wanted parameter in one pass over the FastCGI environment
 * ("NAME=value" strings); the first of a repeated name counts, as with
 * FCGX_GetParam. Missing ones are "".
 */
static void
read_params(FCGX_ParamArray envp, const char *found[P_COUNT])
{
	const char *eq;
	size_t len, i;

	for (i = 0; i < P_COUNT; i++) {
		found[i] = NULL;
	}

	for (; envp != NULL && *envp != NULL; envp++) {
		eq = strchr(*envp, '=');
		if (eq == NULL) {
			continue;
		}
		len = (size_t)(eq - *envp);
		for (i = 0; i < P_COUNT; i++) {
			if (wanted_params[i].len == len && found[i] == NULL &&
			    memcmp(wanted_params[i].name, *envp, len) == 0) {
				found[i] = eq + 1;
				break;
			}
		}
	}

	for (i = 0; i < P_COUNT; i++) {
		if (found[i] == NULL) {
			found[i] = "";
		}
	}
}

static tn_site
site_of(const char *name)
{
	if (strcmp(name, "main") == 0) {
		return TN_SITE_MAIN;
	}
	if (strcmp(name, "tenant") == 0) {
		return TN_SITE_TENANT;
	}
	if (strcmp(name, "custom") == 0) {
		return TN_SITE_CUSTOM;
	}
	return TN_SITE_NONE;
}

void
tn_http_begin(tn_req *req, FCGX_Request *fcgi, const tn_settings *s, tn_db *db)
{
	const char *p[P_COUNT];
	size_t id_len;

	memset(req, 0, sizeof(*req));
	req->fcgi = fcgi;
	req->settings = s;
	req->db = db;
	req->started_ms = tn_db_clock_ms();
	req->headers = kept_headers;
	req->out = kept_out;
	memset(&kept_headers, 0, sizeof(kept_headers));
	memset(&kept_out, 0, sizeof(kept_out));
	read_params(fcgi->envp, p);

	req->site = site_of(p[P_SITE]);
	req->method = p[P_METHOD];
	req->path = p[P_URI];
	req->query = p[P_QUERY];
	req->request_id = p[P_REQUEST_ID];
	id_len = strlen(req->request_id);
	if (strspn(req->request_id, "0123456789abcdefABCDEF-") != id_len ||
	    id_len > 64) {
		/* it goes into a header and the log: refuse anything odd */
		req->request_id = "";
	}
	if (*req->request_id == '\0') {
		unsigned char id[16];

		randombytes_buf(id, sizeof(id));
		sodium_bin2hex(
		    req->made_id, sizeof(req->made_id), id, sizeof(id));
		req->request_id = req->made_id;
	}
	req->content_type = p[P_CONTENT_TYPE];
	req->content_length = p[P_CONTENT_LENGTH];
	req->authorization = p[P_AUTHORIZATION];
	req->cookie = p[P_COOKIE];
	req->origin = p[P_ORIGIN];
	req->fetch_site = p[P_FETCH_SITE];
	req->request_host = p[P_REQUEST_HOST];
	if (*req->request_host == '\0') {
		req->request_host = p[P_HOST];
	}
	req->https = strcmp(p[P_HTTPS], "on") == 0;
	req->from_operator =
	    req->site == TN_SITE_MAIN && strcmp(p[P_STATUS_MARK], "on") == 0;

	if (req->site == TN_SITE_TENANT) {
		req->tenant_key = p[P_TENANT];
	} else if (req->site == TN_SITE_CUSTOM) {
		req->tenant_key = p[P_TENANT_HOST];
	} else {
		req->tenant_key = "";
	}
}

const char *
tn_http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

void
tn_http_header(tn_req *req, const char *name, const char *value)
{
	tn_buf_puts(&req->headers, name);
	tn_buf_append(&req->headers, ": ", 2);
	tn_buf_puts(&req->headers, value);
	tn_buf_append(&req->headers, "\r\n", 2);
}

void
tn_http_text(tn_req *req, int status, const char *content_type,
    const char *body, size_t len)
{
	req->status = status;
	tn_buf_reset(&req->out);
	tn_buf_append(&req->out, body, len);
	tn_http_header(req, "Content-Type", content_type);
}

void
tn_http_json_text(tn_req *req, int status, const char *text, size_t len)
{
	tn_http_text(req, status, "application/json", text, len);
	tn_buf_append(&req->out, "\n", 1);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/*
 * Finds the one pair of the query naming name: returns its value's start
 * and sets *end, or NULL with *found 0 when absent and -1 when the name
 * comes twice or without "=" (which of two values was meant is unknown).
 */
static const char *
query_pair(const char *query, const char *name, const char **end, int *found)
{
	size_t namelen = strlen(name);
	const char *p = query, *pair_end, *value = NULL;

	*found = 0;
	while (*p != '\0') {
		pair_end = p + strcspn(p, "&");
		if (pair_end > p && (size_t)(pair_end - p) >= namelen &&
		    strncmp(p, name, namelen) == 0 &&
		    (p + namelen == pair_end || p[namelen] == '=')) {
			if (value != NULL || p + namelen == pair_end) {
				*found = -1;
				return NULL;
			}
			value = p + namelen + 1;
			*end = pair_end;
		}
		p = *pair_end ? pair_end + 1 : pair_end;
	}
	*found = value != NULL;
	return value;
}

int
tn_http_query(const tn_req *req, const char *name, char *out, size_t outlen)
{
	const char *p, *end = NULL;
	int hi, lo, found;
	size_t n;

	p = query_pair(req->query, name, &end, &found);
	if (p == NULL) {
		return found;
	}

	for (n = 0; p < end; n++) {
		if (n + 1 >= outlen) {
			return -1;
		}
		if (*p == '%') {
			if (end - p < 3 || (hi = hex_value(p[1])) < 0 ||
			    (lo = hex_value(p[2])) < 0 ||
			    (hi == 0 && lo == 0)) {
				return -1;
			}
			out[n] = (char)(hi * 16 + lo);
			p += 3;
		} else {
			out[n] = *p == '+' ? ' ' : *p;
			p++;
		}
	}
	out[n] = '\0';
	return 1;
}

void
tn_http_json(tn_req *req, int status, json_object *doc)
{
	size_t len;
	const char *text;

	text = json_object_to_json_string_length(
	    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	tn_http_text(req, status, "application/json", text, len);
	tn_buf_append(&req->out, "\n", 1);
	json_object_put(doc);
}

/*
 * A JSON string of s with every byte that starts no valid UTF-8 sequence
 * replaced by U+FFFD: a detail cut short by snprintf, or naming what a
 * client sent, must not make the whole answer invalid.
 */
static json_object *
utf8_string(const char *s)
{
	size_t len = strlen(s), i, n;
	json_object *str;
	tn_buf fixed = {0};

	if (tn_http_utf8_valid((const unsigned char *)s, len)) {
		return json_object_new_string(s);
	}

	for (i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)s[i];

		n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (n <= len - i &&
		    tn_http_utf8_valid((const unsigned char *)s + i, n)) {
			tn_buf_append(&fixed, s + i, n);
		} else {
			tn_buf_puts(&fixed, "\xef\xbf\xbd");
			n = 1;
		}
	}
	str = json_object_new_string_len(fixed.data, (int)fixed.len);
	tn_buf_free(&fixed);
	return str;
}

/* Makes the strings of each {field, detail} in errors valid UTF-8. */
static void
utf8_errors(json_object *errors)
{
	json_object *e;
	size_t i;

	for (i = 0; i < json_object_array_length(errors); i++) {
		e = json_object_array_get_idx(errors, i);
		if (!json_object_is_type(e, json_type_object)) {
			continue;
		}
		json_object_object_foreach(e, key, value)
		{
			if (json_object_is_type(value, json_type_string)) {
				json_object_object_add(e, key,
				    utf8_string(json_object_get_string(value)));
			}
		}
	}
}

void
tn_http_problem(tn_req *req, int status, const char *slug, const char *detail,
    json_object *errors)
{
	json_object *doc;
	char type[128];
	size_t len;
	const char *text;

	snprintf(type, sizeof(type), TN_PROBLEM_BASE "%s", slug);

	doc = json_object_new_object();
	json_object_object_add(doc, "type", utf8_string(type));
	json_object_object_add(
	    doc, "title", json_object_new_string(tn_http_reason(status)));
	json_object_object_add(doc, "status", json_object_new_int(status));
	json_object_object_add(doc, "detail", utf8_string(detail));
	json_object_object_add(
	    doc, "request_id", json_object_new_string(req->request_id));
	if (errors != NULL) {
		utf8_errors(errors);
		json_object_object_add(doc, "errors", errors);
	}

	text = json_object_to_json_string_length(
	    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	/* a problem replaces whatever headers an earlier step added */
	tn_buf_reset(&req->headers);
	tn_http_text(req, status, "application/problem+json", text, len);
	tn_buf_append(&req->out, "\n", 1);
	json_object_put(doc);
}

json_object *
tn_http_field_error(json_object *errors, const char *field, const char *detail)
{
	json_object *e;

	if (errors == NULL) {
		errors = json_object_new_array();
	}

	e = json_object_new_object();
	json_object_object_add(e, "field", json_object_new_string(field));
	json_object_object_add(e, "detail", json_object_new_string(detail));
	json_object_array_add(errors, e);
	return errors;
}

/* Reads the body into req->body; answers and returns -1 on a bad one. */
static int
read_body(tn_req *req)
{
	const char *cl;
	char *end;
	long len;
	int n;

	cl = req->content_length;
	if (*cl == '\0') {
		tn_http_problem(req, 411, "length-required",
		    "a request body needs a Content-Length", NULL);
		return -1;
	}

	len = strtol(cl, &end, 10);
	if (*end != '\0' || len < 0) {
		tn_http_problem(req, 400, "bad-request",
		    "Content-Length is not a number", NULL);
		return -1;
	}
	if (len > TN_HTTP_BODY_MAX) {
		tn_http_problem(req, 413, "body-too-large",
		    "the request body is larger than 1 MiB", NULL);
		return -1;
	}

	req->body = malloc((size_t)len + 1);
	if (req->body == NULL) {
		tn_http_problem(req, 503, "overloaded",
		    "no memory for the request body", NULL);
		return -1;
	}

	/* a peer that stops sending costs this request, not the worker */
	alarm(TN_HTTP_READ_TIMEOUT);
	n = len > 0 ? FCGX_GetStr(req->body, (int)len, req->fcgi->in) : 0;
	alarm(0);
	if (n != len) {
		tn_http_problem(req, 400, "bad-request",
		    "the request body is shorter than its Content-Length",
		    NULL);
		return -1;
	}

	req->body[len] = '\0';
	req->body_len = (size_t)len;
	req->body_read = 1;
	return 0;
}

int
tn_http_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned int cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else {
			return 0;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
				return 0;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return 0;
		}
		i += n + 1;
	}
	return 1;
}

/*
 * Finds a \u0000 escape inside an object key. json-c keeps keys as C
 * strings, so such a key would pass for a shorter one: the body is
 * refused as a whole. (In values the escape reaches the field checks,
 * which name the field.)
 */
static int
nul_in_key(const char *s, size_t len)
{
	size_t i, j, slashes;

	for (i = 0; i + 6 <= len; i++) {
		if (s[i] != '\\' || strncasecmp(s + i + 1, "u0000", 5) != 0) {
			continue;
		}
		for (slashes = 0; slashes < i && s[i - 1 - slashes] == '\\';
		     slashes++) {
		}
		if (slashes % 2 != 0) {
			continue;
		}

		/* the end of this string, then what follows it */
		for (j = i + 6; j < len && s[j] != '"'; j++) {
			if (s[j] == '\\') {
				j++;
			}
		}
		for (j++; j < len && strchr(" \t\r\n", s[j]) != NULL; j++) {
		}
		if (j < len && s[j] == ':') {
			return 1;
		}
	}
	return 0;
}

/* The UTF-16 code unit that the four hex digits of an escape name. */
static long
escape_unit(const char *s)
{
	long unit = 0;
	int i, digit;

	for (i = 0; i < 4; i++) {
		digit = hex_value(s[i]);
		if (digit < 0) {
			return -1;
		}
		unit = unit * 16 + digit;
	}
	return unit;
}

static int
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Walks a body that json-c has accepted: counts the member names (each
 * a string followed by a colon) in *names. Returns -1 when an escape
 * is one half of a UTF-16 surrogate pair without the other, which json-c
 * would silently turn into U+FFFD.
 */
static int
scan_strings(const char *s, size_t len, size_t *names)
{
	size_t i = 0, j;
	long unit;

	*names = 0;
	while (i < len) {
		if (s[i] != '"') {
			i++;
			continue;
		}
		for (j = i + 1; j < len && s[j] != '"'; j++) {
			if (s[j] != '\\' || s[++j] != 'u') {
				continue;
			}
			unit = escape_unit(s + j + 1);
			j += 4;
			if (unit >= 0xdc00 && unit <= 0xdfff) {
				return -1;
			}
			if (unit < 0xd800 || unit > 0xdbff) {
				continue;
			}
			if (j + 6 >= len || s[j + 1] != '\\' ||
			    s[j + 2] != 'u') {
				return -1;
			}
			unit = escape_unit(s + j + 3);
			if (unit < 0xdc00 || unit > 0xdfff) {
				return -1;
			}
			j += 6;
		}
		for (i = j + 1; i < len && is_json_space(s[i]); i++) {
		}
		if (i < len && s[i] == ':') {
			(*names)++;
		}
	}
	return 0;
}

/* Counts the members of every object in a document. */
static size_t
count_members(json_object *doc)
{
	size_t n = 0, i;

	if (json_object_is_type(doc, json_type_object)) {
		json_object_object_foreach(doc, name, value)
		{
			(void)name;
			n += 1 + count_members(value);
		}
	} else if (json_object_is_type(doc, json_type_array)) {
		for (i = 0; i < json_object_array_length(doc); i++) {
			n += count_members(json_object_array_get_idx(doc, i));
		}
	}
	return n;
}

static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

json_object *
tn_http_json_body(tn_req *req)
{
	json_tokener *tok;
	json_object *doc;
	enum json_tokener_error jerr;
	char detail[160];
	size_t names;

	if (!is_json_type(req->content_type)) {
		tn_http_problem(req, 415, "unsupported-media-type",
		    "the request body must be application/json", NULL);
		return NULL;
	}
	if (!req->body_read && read_body(req) != 0) {
		return NULL;
	}
	if (memchr(req->body, '\0', req->body_len) != NULL ||
	    nul_in_key(req->body, req->body_len)) {
		tn_http_problem(req, 400, "invalid-json",
		    "the request body contains a NUL character", NULL);
		return NULL;
	}
	if (!tn_http_utf8_valid(
	        (const unsigned char *)req->body, req->body_len)) {
		tn_http_problem(req, 400, "invalid-json",
		    "the request body is not valid UTF-8", NULL);
		return NULL;
	}

	tok = json_tokener_new_ex(TN_JSON_DEPTH);
	if (tok == NULL) {
		tn_http_problem(req, 503, "overloaded", "out of memory", NULL);
		return NULL;
	}
	json_tokener_set_flags(
	    tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	/* the terminating NUL tells json-c that the document ends here */
	doc = json_tokener_parse_ex(tok, req->body, (int)req->body_len + 1);
	jerr = json_tokener_get_error(tok);

	/* the whole body must be one document (nothing but space after it) */
	if (jerr == json_tokener_success &&
	    req->body[json_tokener_get_parse_end(tok) +
	        strspn(req->body + json_tokener_get_parse_end(tok),
	            " \t\r\n")] != '\0') {
		jerr = json_tokener_error_parse_unexpected;
	}
	if (jerr == json_tokener_continue) {
		jerr = json_tokener_error_parse_eof;
	}
	json_tokener_free(tok);

	if (jerr != json_tokener_success) {
		json_object_put(doc);
		snprintf(detail, sizeof(detail),
		    "the request body is not valid JSON: %s",
		    json_tokener_error_desc(jerr));
		tn_http_problem(req, 400, "invalid-json", detail, NULL);
		return NULL;
	}

	if (!json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		tn_http_problem(req, 422, "validation-failed",
		    "the request body must be a JSON object", NULL);
		return NULL;
	}

	/*
	 * json-c would store something else than was sent: U+FFFD for half
	 * a surrogate pair, the last of two equal names alone.
	 */
	if (scan_strings(req->body, req->body_len, &names) != 0) {
		json_object_put(doc);
		tn_http_problem(req, 400, "invalid-json",
		    "the request body has an escape of half a UTF-16 surrogate pair",
		    NULL);
		return NULL;
	}
	if (names != count_members(doc)) {
		json_object_put(doc);
		tn_http_problem(req, 400, "invalid-json",
		    "the request body names a member twice in one object",
		    NULL);
		return NULL;
	}

	return doc;
}

/* Writes v in decimal at p; returns the end. */
static char *
put_decimal(char *p, size_t v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0) {
		*p++ = digits[--n];
	}
	return p;
}

static char *
put_text(char *p, const char *text)
{
	size_t len = strlen(text);

	memcpy(p, text, len);
	return p + len;
}

static void
keep_buf(tn_buf *kept, tn_buf *b)
{
	if (b->cap > TN_HTTP_KEEP_BUF) {
		tn_buf_free(b);
	}
	tn_buf_reset(b);
	*kept = *b;
	memset(b, 0, sizeof(*b));
}

/* Splits a duration into whole milliseconds and hundredths, rounded. */
static void
split_ms(double ms, long *whole, long *hundredths)
{
	long h = ms > 0 ? (long)(ms * 100.0 + 0.5) : 0;

	*whole = h / 100;
	*hundredths = h % 100;
}

/* Appends src escaped (at most size - 1 bytes of it) at p; the end. */
static char *
put_escaped(char *p, size_t size, const char *src)
{
	tn_log_escape(p, size, src);
	return p + strlen(p);
}

/* Appends a duration in milliseconds with two decimals at p. */
static char *
put_ms(char *p, double ms)
{
	long whole, hundredths;

	split_ms(ms, &whole, &hundredths);
	p = put_decimal(p, (size_t)whole);
	*p++ = '.';
	*p++ = (char)('0' + hundredths / 10);
	*p++ = (char)('0' + hundredths % 10);
	return p;
}

/*
 * The request's log line, assembled without printf: id, tenant, method,
 * path (each escaped and bounded), status, durations, round trips.
 */
static void
log_request(tn_req *req)
{
	char line[1024], *p = line;

	p = put_text(p, "request id=");
	p = put_escaped(p, 80, req->request_id);
	p = put_text(p, " tenant=");
	p = put_escaped(p, 160, *req->tenant_key ? req->tenant_key : "-");
	p = put_text(p, " method=");
	p = put_escaped(p, 24, req->method);
	p = put_text(p, " path=\"");
	p = put_escaped(p, 512, req->path);
	p = put_text(p, "\" status=");
	p = put_decimal(p, (size_t)req->status);
	p = put_text(p, " duration_ms=");
	p = put_ms(p, req->duration_ms);
	p = put_text(p, " db_ms=");
	p = put_ms(p, req->db->wait_ms);
	p = put_text(p, " db_round_trips=");
	p = put_decimal(p, (size_t)req->db->round_trips);

	tn_log_text(TN_LOG_INFO, line, (size_t)(p - line));
}

void
tn_http_finish(tn_req *req)
{
	FCGX_Stream *out = req->fcgi->out;
	char head[256], *p;

	if (req->status == 0) {
		tn_log(
		    TN_LOG_ALERT, "handler for %s left no answer", req->path);
		tn_http_problem(req, 500, "internal-error",
		    "the request was not answered", NULL);
	}

	/* the request id is at most 64 characters (tn_http_begin) */
	p = put_text(head, "Status: ");
	p = put_decimal(p, (size_t)req->status);
	*p++ = ' ';
	p = put_text(p, tn_http_reason(req->status));
	p = put_text(p, "\r\nCache-Control: no-store\r\nContent-Length: ");
	p = put_decimal(p, req->out.len);
	p = put_text(p, "\r\nX-Request-Id: ");
	p = put_text(p, req->request_id);
	p = put_text(p, "\r\n");
	FCGX_PutStr(head, (int)(p - head), out);
	if (req->headers.len > 0) {
		FCGX_PutStr(req->headers.data, (int)req->headers.len, out);
	}
	FCGX_PutStr("\r\n", 2, out);
	if (strcmp(req->method, "HEAD") != 0 && req->out.len > 0) {
		FCGX_PutStr(req->out.data, (int)req->out.len, out);
	}

	req->duration_ms = tn_db_clock_ms() - req->started_ms;
	log_request(req);

	free(req->body);
	req->body = NULL;
	keep_buf(&kept_headers, &req->headers);
	keep_buf(&kept_out, &req->out);
}
