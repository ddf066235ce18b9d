/*
 * Fuzzes request bodies: the JSON body reader (NUL, strict UTF-8, one
 * object, depth), the field checks every endpoint builds its request
 * from, and the register-user decoder.
 */
#include "config.h"

#include <time.h>

#include "fuzz.h"
#include "handlers.h"
#include "http.h"
#include "onboard.h"
#include "pipeline.h"
#include "resource.h"
#include "valid.h"

static const char *const statuses[] = {"todo", "doing", "done", NULL};

/* A request as the worker has it once the body is read. */
static void
request_with_body(tn_req *req, const uint8_t *data, size_t size)
{
	memset(req, 0, sizeof(*req));
	req->request_id = "fuzz";
	req->method = "POST";
	req->content_type = "application/json; charset=utf-8";
	req->body = fuzz_string(data, size);
	req->body_len = size;
	req->body_read = 1;
}

static void
request_free(tn_req *req)
{
	free(req->body);
	tn_buf_free(&req->headers);
	tn_buf_free(&req->out);
}

/* Checks that a refused body was answered with a problem document. */
static void
check_refusal(const tn_req *req)
{
	json_object *doc, *status;

	FUZZ_CHECK(req->status == 400 || req->status == 422,
	    "a bad body is a 400 or a 422");
	FUZZ_CHECK(req->out.len > 0 && req->out.data[req->out.len - 1] == '\n',
	    "the problem document ends its line");
	doc = json_tokener_parse(req->out.data);
	FUZZ_CHECK(doc != NULL &&
	        json_object_object_get_ex(doc, "status", &status) &&
	        json_object_get_int(status) == req->status,
	    "the problem document names the status");
	FUZZ_CHECK(strstr(req->headers.data,
	               "Content-Type: application/problem+json") != NULL,
	    "a refusal is application/problem+json");
	json_object_put(doc);
}

static size_t
errors_count(const tn_valid *v)
{
	return v->errors ? json_object_array_length(v->errors) : 0;
}

/* Checks what a helper said about field against the body itself. */
static void
check_outcome(tn_valid *v, size_t before, json_object *obj, const char *field,
    int required, int nullable, tn_field f)
{
	json_object *value = NULL, *last;
	int has;

	has = obj != NULL && json_object_object_get_ex(obj, field, &value);
	switch (f) {
	case TN_FIELD_ABSENT:
		FUZZ_CHECK(!has && !required, "absent means absent");
		break;
	case TN_FIELD_NULL:
		FUZZ_CHECK(has && json_object_is_type(value, json_type_null) &&
		        nullable && !required,
		    "null only where null is allowed");
		break;
	case TN_FIELD_SET:
		FUZZ_CHECK(has && value != NULL, "a set field is in the body");
		break;
	case TN_FIELD_INVALID:
		last = json_object_array_get_idx(v->errors, before);
		FUZZ_CHECK(errors_count(v) == before + 1 &&
		        strcmp(json_object_get_string(
		                   json_object_object_get(last, "field")),
		            field) == 0,
		    "an invalid field adds one error naming it");
		return;
	}
	FUZZ_CHECK(errors_count(v) == before, "a good field adds no error");
}

/* Checks a string field's text against its limits, counted here. */
static void
check_text(const char *s, size_t min, size_t max, int single_line)
{
	size_t chars = 0, i;
	int blank = 1;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		chars += (c & 0xc0) != 0x80;
		blank =
		    blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
		FUZZ_CHECK(c != 0x7f &&
		        (c >= 0x20 ||
		            (!single_line &&
		                (c == '\t' || c == '\n' || c == '\r'))),
		    "no control characters");
	}
	FUZZ_CHECK(chars >= min && chars <= max, "length within limits");
	FUZZ_CHECK(min == 0 || !blank, "a required text is not blank");
}

static void
field_string(tn_valid *v, json_object *obj, const char *field, int nullable,
    size_t min, size_t max, int single_line)
{
	size_t before = errors_count(v);
	const char *s;
	tn_field f;

	f = tn_valid_string(
	    v, obj, field, 0, nullable, min, max, single_line, &s);
	check_outcome(v, before, obj, field, 0, nullable, f);
	if (f == TN_FIELD_SET) {
		FUZZ_CHECK(strlen(s) ==
		        (size_t)json_object_get_string_len(
		            json_object_object_get(obj, field)),
		    "no NUL inside a string field");
		check_text(s, min, max, single_line);
	}
}

/* An independent calendar: the date survives timegm and back. */
static int
real_date(const char *s)
{
	struct tm tm = {0}, back;
	int y, m, d;
	time_t t;

	if (strlen(s) != 10 || strspn(s, "0123456789-") != 10 || s[4] != '-' ||
	    s[7] != '-' || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || y < 1) {
		return 0;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	t = timegm(&tm);
	gmtime_r(&t, &back);
	return back.tm_year == y - 1900 && back.tm_mon == m - 1 &&
	    back.tm_mday == d;
}

static void
check_email(const char *s)
{
	const char *at = strchr(s, '@');

	FUZZ_CHECK(at != NULL && at != s && strchr(at + 1, '@') == NULL &&
	        strchr(at + 1, '.') != NULL && at[1] != '.',
	    "an email address is local@domain.tld");
	check_text(s, 3, 254, 1);
}

/* Runs the field checks the endpoints use on every member they name. */
static void
check_fields(json_object *body)
{
	json_object *value;
	tn_valid v = {0};
	const char *s;
	long long n;
	size_t before;
	tn_field f;
	int b;

	field_string(&v, body, "name", 0, 1, 200, 1);
	field_string(&v, body, "description", 0, 0, 10000, 0);
	field_string(&v, body, "password", 0, 8, 1024, 0);
	field_string(&v, body, "expires_at", 1, 0, 40, 1);

	before = errors_count(&v);
	f = tn_valid_enum(&v, body, "status", 0, statuses, &s);
	check_outcome(&v, before, body, "status", 0, 0, f);
	FUZZ_CHECK(f != TN_FIELD_SET || s == statuses[0] || s == statuses[1] ||
	        s == statuses[2],
	    "an enum is one of its choices");

	before = errors_count(&v);
	f = tn_valid_date(&v, body, "due_date", 0, 1, &s);
	check_outcome(&v, before, body, "due_date", 0, 1, f);
	FUZZ_CHECK(f != TN_FIELD_SET || real_date(s), "a date exists");
	value = json_object_object_get(body, "due_date");
	if (f == TN_FIELD_INVALID &&
	    json_object_is_type(value, json_type_string)) {
		s = json_object_get_string(value);
		FUZZ_CHECK(json_object_get_string_len(value) != 10 ||
		        strlen(s) != 10 || !real_date(s),
		    "a real date is not refused");
	}

	before = errors_count(&v);
	f = tn_valid_int(
	    &v, body, "assignee_id", 0, 1, 1, 999999999999999999LL, &n);
	check_outcome(&v, before, body, "assignee_id", 0, 1, f);
	FUZZ_CHECK(f != TN_FIELD_SET ||
	        (json_object_is_type(
	             json_object_object_get(body, "assignee_id"),
	             json_type_int) &&
	            n >= 1 && n <= 999999999999999999LL),
	    "an integer is within its range");

	before = errors_count(&v);
	f = tn_valid_bool(&v, body, "disabled", 0, &b);
	check_outcome(&v, before, body, "disabled", 0, 0, f);
	FUZZ_CHECK(f != TN_FIELD_SET ||
	        json_object_get_boolean(
	            json_object_object_get(body, "disabled")) == b,
	    "a boolean is read as sent");

	before = errors_count(&v);
	f = tn_valid_email(&v, body, "email", 0, &s);
	check_outcome(&v, before, body, "email", 0, 0, f);
	if (f == TN_FIELD_SET) {
		check_email(s);
	}

	before = errors_count(&v);
	f = tn_valid_string(&v, body, "ref", 0, 0, 1, 255, 1, &s);
	if (f == TN_FIELD_SET && tn_pipeline_ref_problem(s) == NULL) {
		FUZZ_CHECK(strstr(s, "..") == NULL && strstr(s, "@{") == NULL &&
		        strstr(s, "//") == NULL &&
		        strpbrk(s, " ~^:?*[\\") == NULL && s[0] != '/' &&
		        s[0] != '.' && s[strlen(s) - 1] != '/' &&
		        s[strlen(s) - 1] != '.',
		    "a git ref follows git's rules");
	}

	json_object_put(v.errors);
}

/* The 422 answer for errors is strict JSON in valid UTF-8 listing them. */
static void
check_invalid_answer(json_object *errors)
{
	size_t count = json_object_array_length(errors);
	json_object *doc, *listed;
	json_tokener *tok;
	tn_req req;

	memset(&req, 0, sizeof(req));
	req.request_id = "fuzz";
	FUZZ_CHECK(tn_resource_invalid(&req, errors) == -1 && req.status == 422,
	    "invalid fields are a 422");

	tok = json_tokener_new();
	json_tokener_set_flags(
	    tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, req.out.data, (int)req.out.len);
	FUZZ_CHECK(doc != NULL &&
	        json_object_object_get_ex(doc, "errors", &listed) &&
	        json_object_array_length(listed) == count,
	    "the 422 lists every error in strict JSON");
	json_tokener_free(tok);
	json_object_put(doc);
	tn_buf_free(&req.headers);
	tn_buf_free(&req.out);
}

/* Checks the register-user decoder's result against the body. */
static void
check_new_tenant(json_object *body)
{
	static const char *const fields[] = {"subdomain", "name", "owner",
	    "owner.email", "owner.password", "owner.name", NULL};
	json_object *errors, *e;
	tn_new_tenant nt;
	size_t i, k;

	errors = tn_onboard_parse(body, &nt);
	if (errors == NULL) {
		FUZZ_CHECK(nt.subdomain != NULL &&
		        tn_tenant_label_problem(nt.subdomain) == NULL,
		    "a new tenant has a valid subdomain");
		check_text(nt.name, 1, 200, 1);
		check_email(nt.owner_email);
		check_text(nt.owner_password, 8, 1024, 0);
		FUZZ_CHECK(nt.owner_name != NULL, "an owner name, maybe empty");
		check_text(nt.owner_name, 0, 200, 1);
		return;
	}

	FUZZ_CHECK(json_object_array_length(errors) > 0, "errors are listed");
	check_invalid_answer(json_object_get(errors));
	for (i = 0; i < json_object_array_length(errors); i++) {
		const char *field;

		e = json_object_array_get_idx(errors, i);
		field =
		    json_object_get_string(json_object_object_get(e, "field"));
		for (k = 0; fields[k] != NULL; k++) {
			if (field != NULL && strcmp(field, fields[k]) == 0) {
				break;
			}
		}
		FUZZ_CHECK(fields[k] != NULL, "an error names a known field");
		FUZZ_CHECK(json_object_get_string_len(
		               json_object_object_get(e, "detail")) > 0,
		    "an error says what is wrong");
	}
	json_object_put(errors);
}

/* Checks the trigger-pipeline decoder's result against the body. */
static void
check_pipeline_request(json_object *body)
{
	json_object *errors, *e, *inputs = NULL;
	tn_pipeline_request pr;
	const char *field;
	size_t i;

	errors = tn_admin_parse_pipeline_request(body, &pr);
	if (errors == NULL) {
		for (i = 0; tn_pipeline_names[i] != NULL; i++) {
			if (pr.pipeline == tn_pipeline_names[i]) {
				break;
			}
		}
		FUZZ_CHECK(tn_pipeline_names[i] != NULL, "a known pipeline");
		FUZZ_CHECK(
		    pr.ref != NULL && tn_pipeline_ref_problem(pr.ref) == NULL,
		    "a valid ref");
		FUZZ_CHECK(json_object_object_get_ex(body, "ref", NULL) ||
		        strcmp(pr.ref, "main") == 0,
		    "the ref is main unless given");
		json_object_object_get_ex(body, "inputs", &inputs);
		FUZZ_CHECK(pr.inputs == inputs, "the inputs are the body's");
		if (inputs != NULL) {
			json_object_object_foreach(inputs, key, value)
			{
				(void)key;
				FUZZ_CHECK(json_object_is_type(
				               value, json_type_string),
				    "every input is a string");
			}
		}
		return;
	}

	for (i = 0; i < json_object_array_length(errors); i++) {
		e = json_object_array_get_idx(errors, i);
		field =
		    json_object_get_string(json_object_object_get(e, "field"));
		FUZZ_CHECK(field != NULL &&
		        (strcmp(field, "pipeline") == 0 ||
		            strcmp(field, "ref") == 0 ||
		            strcmp(field, "inputs") == 0 ||
		            strncmp(field, "inputs.", 7) == 0),
		    "an error names a known field");
	}
	check_invalid_answer(errors);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *doc, *again, *reparsed;
	tn_req req, req2;

	request_with_body(&req, data, size);
	doc = tn_http_json_body(&req);

	request_with_body(&req2, data, size);
	again = tn_http_json_body(&req2);
	FUZZ_CHECK((doc == NULL) == (again == NULL) &&
	        req.status == req2.status &&
	        (doc == NULL || json_object_equal(doc, again)),
	    "reading a body is deterministic");
	json_object_put(again);
	request_free(&req2);

	if (memchr(data, '\0', size) != NULL ||
	    !tn_http_utf8_valid(data, size)) {
		FUZZ_CHECK(doc == NULL && req.status == 400,
		    "NUL bytes and bad UTF-8 are refused with 400");
	}
	if (doc == NULL) {
		check_refusal(&req);
		request_free(&req);
		return 0;
	}

	FUZZ_CHECK(req.status == 0, "an accepted body is not answered yet");
	FUZZ_CHECK(json_object_is_type(doc, json_type_object),
	    "a body is one JSON object");
	reparsed = json_tokener_parse(
	    json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	FUZZ_CHECK(json_object_equal(doc, reparsed),
	    "what was read serialises to the same document");
	json_object_put(reparsed);

	check_fields(doc);
	check_new_tenant(doc);
	check_pipeline_request(doc);

	json_object_put(doc);
	request_free(&req);
	return 0;
}
