/*
 * Fuzzes what the lists and resources read from a request: a cursor
 * decodes to the values it was made from, any accepted cursor text
 * re-encodes to the same values, resource ids are canonical, and an
 * If-Match names exactly the ETag the resource was given.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "resource.h"

#define CURSOR_TEXT 160

static const char kinds[] = "ptau";

/* decode(encode(values)) == values, and only for that kind and count. */
static void
check_round_trip(char kind, const long long *values, int n)
{
	char text[TN_CURSOR_VALUES][24], *out = malloc(CURSOR_TEXT);
	const char *texts[TN_CURSOR_VALUES];
	long long back[TN_CURSOR_VALUES + 1];
	char query[CURSOR_TEXT + 16];
	tn_req req;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "%lld", values[i]);
		texts[i] = text[i];
	}
	tn_resource_cursor_encode(kind, texts, n, out, CURSOR_TEXT);
	FUZZ_CHECK(strlen(out) > 0 &&
	        strspn(out,
	            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	            "abcdefghijklmnopqrstuvwxyz"
	            "0123456789-_") == strlen(out),
	    "a cursor is base64url without padding");

	FUZZ_CHECK(tn_resource_cursor_decode(out, kind, back, n) == 0,
	    "a cursor decodes");
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(back[i] == values[i], "a cursor keeps its values");
	}
	FUZZ_CHECK(tn_resource_cursor_decode(
	               out, kind == 'p' ? 't' : 'p', back, n) != 0,
	    "a cursor of one list is refused by another");
	FUZZ_CHECK(tn_resource_cursor_decode(out, kind, back, n + 1) != 0,
	    "a cursor with too few values is refused");
	if (n > 1) {
		FUZZ_CHECK(
		    tn_resource_cursor_decode(out, kind, back, n - 1) != 0,
		    "a cursor with too many values is refused");
	}

	/* as the lists see it: in the query string */
	memset(&req, 0, sizeof(req));
	req.request_id = "fuzz";
	snprintf(query, sizeof(query), "limit=5&cursor=%s", out);
	req.query = query;
	FUZZ_CHECK(
	    tn_resource_cursor(&req, kind, back, n) == 1 && req.status == 0,
	    "a cursor in the query string is taken");
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(back[i] == values[i], "the query keeps the values");
	}
	free(out);
}

/* Any text: an accepted cursor holds values that survive a round trip. */
static void
check_text(const char *text, char kind, int n)
{
	long long values[TN_CURSOR_VALUES];
	int i;

	if (tn_resource_cursor_decode(text, kind, values, n) != 0) {
		return;
	}
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(values[i] >= 0, "cursor values are not negative");
	}
	check_round_trip(kind, values, n);
}

/* Ids: 1 to 18 digits, no leading zero, copied as they are. */
static void
check_id(const char *text)
{
	char id[24];
	long long value;
	char *end;

	if (tn_resource_id(text, id) != 0) {
		return;
	}
	errno = 0;
	value = strtoll(id, &end, 10);
	FUZZ_CHECK(strcmp(id, text) == 0 && *end == '\0' && errno == 0 &&
	        value > 0 && strlen(id) <= 18 && id[0] != '0',
	    "an id is a canonical positive number");
}

/* If-Match against the ETag of kind, id and version. */
static void
check_if_match(const char *given, char kind, const char *id)
{
	char header[600], out[16], expected[64];
	char *envp[2] = {header, NULL};
	FCGX_Request fcgi;
	tn_req req;
	int rc;

	memset(&fcgi, 0, sizeof(fcgi));
	fcgi.envp = envp;
	memset(&req, 0, sizeof(req));
	req.fcgi = &fcgi;
	req.request_id = "fuzz";
	snprintf(header, sizeof(header), "HTTP_IF_MATCH=%s", given);

	rc = tn_resource_if_match(&req, kind, id, out);
	if (rc == 0) {
		FUZZ_CHECK(*given == '\0' || strcmp(given, "*") == 0,
		    "only no If-Match or * matches anything");
	} else if (rc == 1) {
		FUZZ_CHECK(strlen(out) >= 1 && strlen(out) <= 9 &&
		        strspn(out, "0123456789") == strlen(out),
		    "a version is 1 to 9 digits");
		snprintf(
		    expected, sizeof(expected), "\"%c%sv%s\"", kind, id, out);
		FUZZ_CHECK(strcmp(given, expected) == 0,
		    "If-Match names exactly this resource");
	} else {
		FUZZ_CHECK(rc == -1, "a bad If-Match is -1");
	}

	/* the ETag the resource is given is matched by If-Match */
	tn_resource_etag(&req, kind, id, "42");
	snprintf(header, sizeof(header), "HTTP_IF_MATCH=%s",
	    req.headers.data + strlen("ETag: "));
	header[strlen(header) - 2] = '\0';
	FUZZ_CHECK(tn_resource_if_match(&req, kind, id, out) == 1 &&
	        strcmp(out, "42") == 0,
	    "an ETag matches its own resource");
	tn_buf_free(&req.headers);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long values[TN_CURSOR_VALUES];
	const char *fields[3];
	char kind, *copy;
	uint64_t raw;
	int n, i;

	if (size < 2) {
		return 0;
	}
	kind = kinds[data[0] % 4];
	n = 1 + data[1] % 3;

	if (data[0] & 0x80 && size >= 2 + 8 * (size_t)n) {
		for (i = 0; i < n; i++) {
			memcpy(&raw, data + 2 + 8 * i, sizeof(raw));
			/* from 63 bits down to 1, so short numbers come up too
			 */
			values[i] = (long long)(raw >> (1 + (raw & 0x3f) % 63));
		}
		check_round_trip(kind, values, n);
		return 0;
	}

	/* fields: cursor text, resource id, If-Match */
	copy = fuzz_fields(data + 2, size - 2, fields, 3);
	check_text(fields[0], kind, n);
	check_id(fields[1]);
	if (tn_resource_id(fields[1], (char[24]){0}) == 0) {
		check_if_match(fields[2], kind, fields[1]);
	}
	free(copy);
	return 0;
}
