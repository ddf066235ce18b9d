/*
 * Fuzzes the problem+json builder: whatever the status, slug, detail and
 * field errors, the answer is one strict JSON document in valid UTF-8
 * with type, title, status and detail, and a valid detail round-trips.
 */
#include "config.h"

#include "fuzz.h"
#include "http.h"

#define PROBLEM_BASE "https://tenantry.dev/problems/"

/* Parses text as a client would: strict JSON, strict UTF-8. */
static json_object *
parse_strictly(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *doc;

	json_tokener_set_flags(
	    tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	FUZZ_CHECK(doc != NULL &&
	        json_tokener_get_error(tok) == json_tokener_success &&
	        (size_t)json_tokener_get_parse_end(tok) == len,
	    "a problem document is one strict JSON document");
	json_tokener_free(tok);
	return doc;
}

static const char *
member_string(json_object *doc, const char *name)
{
	json_object *value;

	FUZZ_CHECK(json_object_object_get_ex(doc, name, &value) &&
	        json_object_is_type(value, json_type_string),
	    "a problem member is a string");
	return json_object_get_string(value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[6], *text;
	json_object *errors = NULL, *doc, *value, *e;
	char *copy;
	tn_req req;
	int status;
	size_t i;

	if (size < 2) {
		return 0;
	}
	status = 100 + (data[0] << 8 | data[1]) % 500;
	copy = fuzz_fields(data + 2, size - 2, fields, 6);

	/* fields: slug, detail, then field errors as field and detail */
	if (*fields[2] != '\0') {
		errors = tn_http_field_error(NULL, fields[2], fields[3]);
		errors = tn_http_field_error(errors, fields[4], fields[5]);
	}

	memset(&req, 0, sizeof(req));
	req.request_id = "0123456789abcdef";
	tn_http_header(&req, "ETag", "\"p1v1\"");
	tn_http_problem(&req, status, fields[0], fields[1], errors);

	FUZZ_CHECK(req.status == status, "the status is the one asked for");
	FUZZ_CHECK(strcmp(req.headers.data,
	               "Content-Type: application/problem+json\r\n") == 0,
	    "a problem has only its own Content-Type header");
	FUZZ_CHECK(req.out.len > 1 && req.out.data[req.out.len - 1] == '\n',
	    "the document ends its line");
	FUZZ_CHECK(tn_http_utf8_valid(
	               (const unsigned char *)req.out.data, req.out.len),
	    "a problem document is valid UTF-8");

	doc = parse_strictly(req.out.data, req.out.len - 1);
	text = member_string(doc, "type");
	FUZZ_CHECK(strncmp(text, PROBLEM_BASE, strlen(PROBLEM_BASE)) == 0,
	    "the type is a problem URI");
	FUZZ_CHECK(
	    strcmp(member_string(doc, "title"), tn_http_reason(status)) == 0,
	    "the title is the reason phrase");
	FUZZ_CHECK(json_object_object_get_ex(doc, "status", &value) &&
	        json_object_is_type(value, json_type_int) &&
	        json_object_get_int(value) == status,
	    "the status is in the document");
	FUZZ_CHECK(
	    strcmp(member_string(doc, "request_id"), "0123456789abcdef") == 0,
	    "the request id is in the document");

	text = member_string(doc, "detail");
	if (tn_http_utf8_valid(
	        (const unsigned char *)fields[1], strlen(fields[1]))) {
		FUZZ_CHECK(strcmp(text, fields[1]) == 0,
		    "a detail in valid UTF-8 round-trips");
	}
	if (tn_http_utf8_valid(
	        (const unsigned char *)fields[0], strlen(fields[0])) &&
	    strlen(PROBLEM_BASE) + strlen(fields[0]) < 128) {
		FUZZ_CHECK(strcmp(text = member_string(doc, "type") +
		                   strlen(PROBLEM_BASE),
		               fields[0]) == 0,
		    "the slug ends the type");
	}

	if (errors != NULL) {
		FUZZ_CHECK(json_object_object_get_ex(doc, "errors", &value) &&
		        json_object_array_length(value) == 2,
		    "the field errors are listed");
		for (i = 0; i < 2; i++) {
			e = json_object_array_get_idx(value, i);
			text = member_string(e, "field");
			if (tn_http_utf8_valid(
			        (const unsigned char *)fields[2 + 2 * i],
			        strlen(fields[2 + 2 * i]))) {
				FUZZ_CHECK(strcmp(text, fields[2 + 2 * i]) == 0,
				    "an error's field round-trips");
			}
			member_string(e, "detail");
		}
	} else {
		FUZZ_CHECK(!json_object_object_get_ex(doc, "errors", NULL),
		    "no errors member without errors");
	}

	json_object_put(doc);
	tn_buf_free(&req.headers);
	tn_buf_free(&req.out);
	free(copy);
	return 0;
}
