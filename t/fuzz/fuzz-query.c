/*
 * Fuzzes query-string parsing: a parameter's value as a plain decoder
 * written here finds it (first match, "+" and %XX, no %00, bounded
 * output), and ?limit= as the lists read it.
 */
#include "config.h"

#include "fuzz.h"
#include "resource.h"

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The reference: split at "&", skip empty pairs; a name given twice, or
 * bare without "=", is refused; else decode the value of its one
 * "name=value" into a buffer as large as the pair. Returns as
 * tn_http_query.
 */
static int
reference_query(const char *query, const char *name, char *out, size_t outlen)
{
	char *copy = strdup(query), *pair, *rest = copy, *value = NULL;
	size_t n = 0, i, nlen = strlen(name);
	int result = 0, hi, lo;

	while ((pair = strsep(&rest, "&")) != NULL) {
		if (*pair == '\0') {
			continue;
		}
		if (strcmp(pair, name) == 0) {
			result = -1;
		} else if (strncmp(pair, name, nlen) == 0 &&
		    pair[nlen] == '=') {
			result = value != NULL ? -1 : result;
			value = pair + nlen + 1;
		}
	}
	if (result < 0 || value == NULL) {
		free(copy);
		return result;
	}

	result = 1;
	for (i = 0; value[i] != '\0'; n++) {
		if (value[i] == '%') {
			hi = value[i + 1] ? hex_digit(value[i + 1]) : -1;
			lo = hi >= 0 && value[i + 2] ? hex_digit(value[i + 2])
			                             : -1;
			if (lo < 0 || hi * 16 + lo == 0) {
				result = -1;
				break;
			}
			out[n] = (char)(hi * 16 + lo);
			i += 3;
		} else {
			out[n] = value[i] == '+' ? ' ' : value[i];
			i++;
		}
	}
	out[n] = '\0';
	if (result == 1 && n >= outlen) {
		result = -1;
	}
	free(copy);
	return result;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[2];
	char *copy, *out, *expected, *end;
	size_t outlen;
	tn_req req;
	long limit;
	int found, want;

	if (size < 1) {
		return 0;
	}
	outlen = 1 + data[0] % 128;
	copy = fuzz_fields(data + 1, size - 1, fields, 2);

	memset(&req, 0, sizeof(req));
	req.request_id = "fuzz";
	req.query = fields[1];

	/* exactly outlen bytes, so ASan sees a write past the end */
	out = malloc(outlen);
	expected = malloc(size + 1);
	found = tn_http_query(&req, fields[0], out, outlen);
	want = reference_query(fields[1], fields[0], expected, outlen);
	FUZZ_CHECK(
	    found == want, "the parameter is found as the reference does");
	if (found == 1) {
		FUZZ_CHECK(strcmp(out, expected) == 0,
		    "the value is decoded as the reference does");
		FUZZ_CHECK(strlen(out) < outlen, "the value fits its buffer");
	}
	free(expected);
	free(out);

	/* ?limit= is 1..100, 50 when absent, else a 422 problem */
	if (tn_resource_limit(&req, &limit) == 0) {
		FUZZ_CHECK(req.status == 0 && limit >= 1 && limit <= 100,
		    "a list limit is 1 to 100");
		expected = malloc(size + 1);
		if (reference_query(req.query, "limit", expected, 16) == 1) {
			FUZZ_CHECK(
			    strtol(expected, &end, 10) == limit && *end == '\0',
			    "the limit is the one asked for");
		} else {
			FUZZ_CHECK(limit == 50, "the default limit is 50");
		}
		free(expected);
	} else {
		FUZZ_CHECK(req.status == 422, "a bad limit is a 422");
	}

	tn_buf_free(&req.headers);
	tn_buf_free(&req.out);
	free(copy);
	return 0;
}
