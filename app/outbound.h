/* Requests to services outside the stack (DNS, GitHub, Vault) by libcurl. */
#ifndef TN_OUTBOUND_H
#define TN_OUTBOUND_H

#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"

#define TN_OUTBOUND_CONNECT_TIMEOUT 5  /* seconds to connect */
#define TN_OUTBOUND_TOTAL_TIMEOUT   15 /* seconds for a whole exchange */
#define TN_OUTBOUND_BODY_MAX        (1024 * 1024) /* largest answer kept */

/* The longest message a peer's answer contributes to an error. */
#define TN_OUTBOUND_MESSAGE_MAX 300

typedef enum {
	TN_OUTBOUND_OK = 0,      /* an answer arrived, whatever its status */
	TN_OUTBOUND_TIMEOUT,     /* no whole answer within the bounds */
	TN_OUTBOUND_UNREACHABLE, /* name, connection or TLS failed */
	TN_OUTBOUND_FAILED       /* anything else: bad URL, memory, size */
} tn_outbound_status;

typedef struct {
	const char *method; /* GET, POST, PUT, PATCH, DELETE */
	const char *url;
	struct curl_slist *headers; /* the caller's; see tn_outbound_header */
	const char *body;           /* NULL: no body */
	size_t body_len;
	const char *aws_sigv4; /* libcurl's SigV4 provider string, or NULL */
	const char *user;      /* with aws_sigv4: the access key id */
	const char *password;  /* with aws_sigv4: the secret access key */
} tn_outbound_request;

typedef struct {
	long status; /* the HTTP status; 0 when no answer arrived */
	tn_buf body; /* the answer's body, NUL-terminated when not empty */
} tn_outbound_response;

/*
 * Sends one request and waits at most TN_OUTBOUND_TOTAL_TIMEOUT seconds for
 * the whole answer. Only http and https are spoken and redirects are not
 * followed. Returns OK with the status and body in *rs (any status), or
 * another status with a message in err that names the URL. rs must be
 * released with tn_outbound_response_free either way.
 */
tn_outbound_status tn_outbound_send(const tn_outbound_request *rq,
    tn_outbound_response *rs, char *err, size_t errlen);

void tn_outbound_response_free(tn_outbound_response *rs);

/*
 * Appends "name: value" to *list. Returns 0, or -1 when out of memory
 * (the list stays as it was).
 */
int tn_outbound_header(
    struct curl_slist **list, const char *name, const char *value);

/* Wipes every header line (some carry secrets), then frees the list. */
void tn_outbound_headers_free(struct curl_slist *list);

/*
 * Replaces every occurrence of each non-empty secret in text with
 * "[redacted]", keeping text NUL-terminated within textlen bytes. secrets
 * is an array of n strings, any of them NULL.
 */
void tn_outbound_redact(
    char *text, size_t textlen, const char *const *secrets, size_t n);

/*
 * Copies a peer's message into dst for an error text: its first line, at
 * most TN_OUTBOUND_MESSAGE_MAX bytes, untrusted bytes escaped. Returns
 * dst.
 */
char *tn_outbound_message(char *dst, size_t dstlen, const char *text);

/*
 * Copies the message of an error answer into dst as tn_outbound_message
 * does: the string member of a JSON object body named member; when that
 * is an array, its first element, or that element's "message" member;
 * when the body is no such JSON, the body's first line. Returns dst.
 */
char *tn_outbound_error_message(char *dst, size_t dstlen,
    const tn_outbound_response *rs, const char *member);

/*
 * Copies a base URL into dst without its trailing slashes. Returns 0, or
 * -1 when it does not start with http:// or https:// or does not fit.
 */
int tn_outbound_base_url(char *dst, size_t dstlen, const char *url);

#endif
