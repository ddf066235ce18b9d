/* Requests to services outside the stack through libcurl, with bounds. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "outbound.h"

#define REDACTED "[redacted]"

static int curl_ready;

/* Initialises libcurl once per process; returns -1 when it cannot. */
static int
outbound_init(void)
{
	if (curl_ready) {
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		return -1;
	}
	curl_ready = 1;
	return 0;
}

/* Collects the answer's body; refuses one larger than the bound. */
static size_t
collect_body(char *data, size_t size, size_t count, void *arg)
{
	tn_outbound_response *rs = arg;
	size_t len = size * count;

	if (rs->body.len + len > TN_OUTBOUND_BODY_MAX) {
		return 0;
	}
	tn_buf_append(&rs->body, data, len);
	return len;
}

static tn_outbound_status
status_of(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return TN_OUTBOUND_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return TN_OUTBOUND_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return TN_OUTBOUND_UNREACHABLE;
	default:
		return TN_OUTBOUND_FAILED;
	}
}

/* Sets the method and body; returns the first failing option's code. */
static CURLcode
set_method(CURL *curl, const tn_outbound_request *rq)
{
	CURLcode rc;

	if (rq->body != NULL) {
		rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
		if (rc == CURLE_OK) {
			rc = curl_easy_setopt(
			    curl, CURLOPT_POSTFIELDS, rq->body);
		}
	} else {
		rc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	}

	if (rc == CURLE_OK && strcmp(rq->method, "GET") != 0 &&
	    strcmp(rq->method, "POST") != 0) {
		rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	return rc;
}

/* Sets the SigV4 signing of a request that asks for it. */
static CURLcode
set_signing(CURL *curl, const tn_outbound_request *rq)
{
	CURLcode rc;

	if (rq->aws_sigv4 == NULL) {
		return CURLE_OK;
	}

	rc = curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, rq->aws_sigv4);
	if (rc == CURLE_OK) {
		rc = curl_easy_setopt(curl, CURLOPT_USERNAME, rq->user);
	}
	if (rc == CURLE_OK) {
		rc = curl_easy_setopt(curl, CURLOPT_PASSWORD, rq->password);
	}
	return rc;
}

/* Sets every option of one exchange; returns the first failure. */
static CURLcode
set_options(CURL *curl, const tn_outbound_request *rq, tn_outbound_response *rs,
    char *curl_err)
{
	CURLcode rc = CURLE_OK;

#define SET(option, value)                                                     \
	if (rc == CURLE_OK) {                                                  \
		rc = curl_easy_setopt(curl, option, value);                    \
	}

	SET(CURLOPT_ERRORBUFFER, curl_err);
	SET(CURLOPT_URL, rq->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* the workers use SIGALRM themselves: libcurl must leave it alone */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)TN_OUTBOUND_CONNECT_TIMEOUT);
	SET(CURLOPT_TIMEOUT, (long)TN_OUTBOUND_TOTAL_TIMEOUT);
	SET(CURLOPT_USERAGENT, "tenantry");
	SET(CURLOPT_HTTPHEADER, rq->headers);
	SET(CURLOPT_WRITEFUNCTION, collect_body);
	SET(CURLOPT_WRITEDATA, rs);
#undef SET

	if (rc == CURLE_OK) {
		rc = set_method(curl, rq);
	}
	if (rc == CURLE_OK) {
		rc = set_signing(curl, rq);
	}
	return rc;
}

tn_outbound_status
tn_outbound_send(const tn_outbound_request *rq, tn_outbound_response *rs,
    char *err, size_t errlen)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	tn_outbound_status st = TN_OUTBOUND_FAILED;
	CURL *curl = NULL;
	CURLcode rc;

	memset(rs, 0, sizeof(*rs));

	if (outbound_init() != 0 || (curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto done;
	}

	rc = set_options(curl, rq, rs, curl_err);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot set up the request to %s: %s",
		    rq->url, curl_easy_strerror(rc));
		goto done;
	}

	rc = curl_easy_perform(curl);
	st = status_of(rc);
	if (rc == CURLE_WRITE_ERROR) {
		snprintf(err, errlen,
		    "%s %s: the answer is larger than %d bytes", rq->method,
		    rq->url, TN_OUTBOUND_BODY_MAX);
		goto done;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", rq->method, rq->url,
		    curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc));
		goto done;
	}

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rs->status);
	if (rs->body.data == NULL) {
		tn_buf_append(&rs->body, "", 0);
	}

done:
	if (curl != NULL) {
		curl_easy_cleanup(curl);
	}
	return st;
}

void
tn_outbound_response_free(tn_outbound_response *rs)
{
	tn_buf_free(&rs->body);
	rs->status = 0;
}

int
tn_outbound_header(
    struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *grown;
	size_t len = strlen(name) + strlen(value) + 3;
	char *line;

	line = malloc(len);
	if (line == NULL) {
		return -1;
	}
	snprintf(line, len, "%s: %s", name, value);

	grown = curl_slist_append(*list, line);
	explicit_bzero(line, len);
	free(line);
	if (grown == NULL) {
		return -1;
	}

	*list = grown;
	return 0;
}

void
tn_outbound_headers_free(struct curl_slist *list)
{
	struct curl_slist *item;

	for (item = list; item != NULL; item = item->next) {
		explicit_bzero(item->data, strlen(item->data));
	}
	curl_slist_free_all(list);
}

/* Replaces the occurrences of one secret in text. */
static void
redact_one(char *text, size_t textlen, const char *secret)
{
	size_t slen = strlen(secret), rlen = strlen(REDACTED);
	tn_buf out = {0};
	const char *at, *from = text;

	if (slen == 0 || strstr(text, secret) == NULL) {
		return;
	}

	while ((at = strstr(from, secret)) != NULL) {
		tn_buf_append(&out, from, (size_t)(at - from));
		tn_buf_append(&out, REDACTED, rlen);
		from = at + slen;
	}
	tn_buf_puts(&out, from);

	snprintf(text, textlen, "%s", out.data);
	tn_buf_free(&out);
}

void
tn_outbound_redact(
    char *text, size_t textlen, const char *const *secrets, size_t n)
{
	size_t i;

	if (textlen == 0) {
		return;
	}
	for (i = 0; i < n; i++) {
		if (secrets[i] != NULL) {
			redact_one(text, textlen, secrets[i]);
		}
	}
}

char *
tn_outbound_message(char *dst, size_t dstlen, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, used = 0;
	unsigned char c;

	if (dstlen == 0) {
		return dst;
	}

	for (; text != NULL && text[used] != '\0'; used++) {
		c = (unsigned char)text[used];
		if (c == '\n' || c == '\r' || used >= TN_OUTBOUND_MESSAGE_MAX) {
			break;
		}
		if (c >= 0x20 && c < 0x7f) {
			if (i + 1 >= dstlen) {
				break;
			}
			dst[i++] = (char)c;
			continue;
		}
		if (i + 4 >= dstlen) {
			break;
		}
		dst[i++] = '\\';
		dst[i++] = 'x';
		dst[i++] = hex[c >> 4];
		dst[i++] = hex[c & 0xf];
	}

	dst[i] = '\0';
	return dst;
}

/* The text a member holds: a string, or an array's first string. */
static const char *
member_text(json_object *value)
{
	json_object *first, *message;

	if (json_object_is_type(value, json_type_string)) {
		return json_object_get_string(value);
	}
	if (!json_object_is_type(value, json_type_array) ||
	    json_object_array_length(value) == 0) {
		return NULL;
	}

	first = json_object_array_get_idx(value, 0);
	if (json_object_is_type(first, json_type_string)) {
		return json_object_get_string(first);
	}
	if (json_object_object_get_ex(first, "message", &message) &&
	    json_object_is_type(message, json_type_string)) {
		return json_object_get_string(message);
	}
	return NULL;
}

char *
tn_outbound_error_message(char *dst, size_t dstlen,
    const tn_outbound_response *rs, const char *member)
{
	const char *body = rs->body.data ? rs->body.data : "";
	const char *text = NULL;
	json_object *doc, *value;

	doc = json_tokener_parse(body);
	if (json_object_is_type(doc, json_type_object) &&
	    json_object_object_get_ex(doc, member, &value)) {
		text = member_text(value);
	}

	if (text == NULL || *text == '\0') {
		text = *body != '\0' ? body : "(no message)";
	}
	tn_outbound_message(dst, dstlen, text);

	json_object_put(doc);
	return dst;
}

int
tn_outbound_base_url(char *dst, size_t dstlen, const char *url)
{
	size_t len;

	if (url == NULL ||
	    (strncmp(url, "http://", 7) != 0 &&
	        strncmp(url, "https://", 8) != 0)) {
		return -1;
	}

	len = strlen(url);
	while (len > 0 && url[len - 1] == '/') {
		len--;
	}
	if (len + 1 > dstlen) {
		return -1;
	}

	memcpy(dst, url, len);
	dst[len] = '\0';
	return 0;
}
