/* Cloudflare: DNS records API v4; find the name's records, then write. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "dns_provider.h"
#include "outbound.h"

#define CF_RECORDS_MAX 16 /* records of one name looked at */
#define CF_ID_MAX      64
#define CF_URL_MAX     (TN_DNS_URL_MAX + 2 * TN_DNS_NAME_MAX + 128)

/* One existing record at the tenant's name. */
typedef struct {
	char id[CF_ID_MAX + 1];
	char type[8];
	char content[TN_DNS_NAME_MAX + 2];
	long ttl;
} cf_record;

typedef struct {
	cf_record records[CF_RECORDS_MAX];
	size_t n;
} cf_found;

/* The answer of one call: HTTP status and the parsed document. */
typedef struct {
	long status;
	json_object *doc; /* NULL when the body is no JSON; caller puts */
} cf_answer;

static int
success_of(json_object *doc)
{
	json_object *success;

	return json_object_object_get_ex(doc, "success", &success) &&
	    json_object_get_boolean(success);
}

/* Describes a refusal: the first of Cloudflare's errors, redacted. */
static void
refusal(const tn_dns_config *c, const char *what, long status,
    const tn_outbound_response *rs, char *err, size_t errlen)
{
	char message[TN_OUTBOUND_MESSAGE_MAX + 1];

	tn_outbound_error_message(message, sizeof(message), rs, "errors");
	tn_dns_redact(c, message, sizeof(message));
	snprintf(err, errlen, "Cloudflare refused to %s (HTTP %ld): %s", what,
	    status, message);
}

/*
 * Sends one request with the zone's token. Returns OK with the answer
 * when Cloudflare reports success (or, with missing_ok, 404), else the
 * failure with a message in err naming what.
 */
static tn_dns_status
cf_call(const tn_dns_config *c, const char *method, const char *url,
    json_object *body, const char *what, int missing_ok, cf_answer *answer,
    char *err, size_t errlen)
{
	tn_outbound_request rq = {0};
	tn_outbound_response rs = {0};
	tn_dns_status st = TN_DNS_REFUSED;
	tn_outbound_status os;
	char bearer[1024];

	memset(answer, 0, sizeof(*answer));
	snprintf(bearer, sizeof(bearer), "Bearer %s", c->api_secret);

	rq.method = method;
	rq.url = url;
	if (body != NULL) {
		rq.body = json_object_to_json_string_length(
		    body, JSON_C_TO_STRING_PLAIN, &rq.body_len);
	}
	if (tn_outbound_header(&rq.headers, "Authorization", bearer) ||
	    tn_outbound_header(
	        &rq.headers, "Content-Type", "application/json")) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	os = tn_outbound_send(&rq, &rs, err, errlen);
	if (os != TN_OUTBOUND_OK) {
		st = TN_DNS_UNREACHABLE;
		goto done;
	}

	answer->status = rs.status;
	answer->doc = json_tokener_parse(rs.body.data);
	if ((rs.status == 200 && success_of(answer->doc)) ||
	    (missing_ok && rs.status == 404)) {
		st = TN_DNS_OK;
		goto done;
	}
	refusal(c, what, rs.status, &rs, err, errlen);

done:
	explicit_bzero(bearer, sizeof(bearer));
	tn_outbound_response_free(&rs);
	tn_outbound_headers_free(rq.headers);
	return st;
}

/* Copies a string member into out; 0, or -1 when absent or too long. */
static int
string_member(json_object *obj, const char *name, char *out, size_t outlen)
{
	json_object *value;
	const char *text;

	if (!json_object_object_get_ex(obj, name, &value) ||
	    !json_object_is_type(value, json_type_string)) {
		return -1;
	}
	text = json_object_get_string(value);
	if (strlen(text) >= outlen) {
		return -1;
	}
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* Takes one listed record when it is of a type the tenant's name holds. */
static void
take_record(json_object *item, cf_found *found)
{
	cf_record *r = &found->records[found->n];
	json_object *ttl;
	size_t i;

	if (string_member(item, "id", r->id, sizeof(r->id)) != 0 ||
	    strspn(r->id, "0123456789abcdefABCDEF") != strlen(r->id) ||
	    string_member(item, "type", r->type, sizeof(r->type)) != 0 ||
	    string_member(item, "content", r->content, sizeof(r->content))) {
		return;
	}
	r->ttl = json_object_object_get_ex(item, "ttl", &ttl)
	    ? (long)json_object_get_int64(ttl)
	    : 0;

	for (i = 0; i < 3; i++) {
		if (strcmp(r->type, tn_dns_types[i]) == 0) {
			found->n++;
			return;
		}
	}
}

/* Lists the CNAME, A and AAAA records at the record's name. */
static tn_dns_status
list_records(const tn_dns_config *c, const tn_dns_record *rec, cf_found *found,
    char *err, size_t errlen)
{
	char url[CF_URL_MAX], what[300];
	json_object *result;
	cf_answer answer;
	tn_dns_status st;
	size_t i, len;

	found->n = 0;
	snprintf(url, sizeof(url),
	    "%s/zones/%s/dns_records?name=%s&per_page=100", c->base_url,
	    c->zone, rec->name);
	snprintf(what, sizeof(what), "list the records of %s", rec->name);

	st = cf_call(c, "GET", url, NULL, what, 0, &answer, err, errlen);
	if (st != TN_DNS_OK) {
		goto done;
	}
	if (!json_object_object_get_ex(answer.doc, "result", &result) ||
	    !json_object_is_type(result, json_type_array)) {
		snprintf(err, errlen,
		    "Cloudflare's list of the records of %s has no result array",
		    rec->name);
		st = TN_DNS_REFUSED;
		goto done;
	}

	len = json_object_array_length(result);
	for (i = 0; i < len && found->n < CF_RECORDS_MAX; i++) {
		take_record(json_object_array_get_idx(result, i), found);
	}

done:
	json_object_put(answer.doc);
	return st;
}

static tn_dns_status
delete_record(const tn_dns_config *c, const tn_dns_record *rec,
    const cf_record *old, char *err, size_t errlen)
{
	char url[CF_URL_MAX], what[300];
	cf_answer answer;
	tn_dns_status st;

	snprintf(url, sizeof(url), "%s/zones/%s/dns_records/%s", c->base_url,
	    c->zone, old->id);
	snprintf(what, sizeof(what), "remove the %s record of %s", old->type,
	    rec->name);

	st = cf_call(c, "DELETE", url, NULL, what, 1, &answer, err, errlen);
	json_object_put(answer.doc);
	return st;
}

/* Creates the record (old NULL) or overwrites an existing one. */
static tn_dns_status
write_record(const tn_dns_config *c, const tn_dns_record *rec,
    const cf_record *old, char *err, size_t errlen)
{
	char url[CF_URL_MAX], what[300];
	json_object *body;
	cf_answer answer;
	tn_dns_status st;

	snprintf(url, sizeof(url), "%s/zones/%s/dns_records%s%s", c->base_url,
	    c->zone, old ? "/" : "", old ? old->id : "");
	snprintf(what, sizeof(what), "set the %s record of %s", rec->type,
	    rec->name);

	body = json_object_new_object();
	json_object_object_add(body, "type", json_object_new_string(rec->type));
	json_object_object_add(body, "name", json_object_new_string(rec->name));
	json_object_object_add(
	    body, "content", json_object_new_string(rec->value));
	json_object_object_add(body, "ttl", json_object_new_int64(rec->ttl));
	json_object_object_add(body, "proxied", json_object_new_boolean(0));

	st = cf_call(
	    c, old ? "PUT" : "POST", url, body, what, 0, &answer, err, errlen);
	json_object_put(answer.doc);
	json_object_put(body);
	return st;
}

/*
 * Keeps the first record of the wanted type, removes every other one
 * (a CNAME shares its name with nothing), then creates or overwrites
 * the kept one unless it already says the same.
 */
static tn_dns_status
upsert(const tn_dns_config *c, const tn_dns_record *rec, cf_found *found,
    char *err, size_t errlen)
{
	const cf_record *keep = NULL;
	tn_dns_status st;
	size_t i;

	for (i = 0; i < found->n; i++) {
		if (keep == NULL &&
		    strcmp(found->records[i].type, rec->type) == 0) {
			keep = &found->records[i];
			continue;
		}
		st = delete_record(c, rec, &found->records[i], err, errlen);
		if (st != TN_DNS_OK) {
			return st;
		}
	}

	if (keep != NULL && keep->ttl == rec->ttl &&
	    strcasecmp(keep->content, rec->value) == 0) {
		return TN_DNS_OK;
	}
	return write_record(c, rec, keep, err, errlen);
}

tn_dns_status
tn_dns_cloudflare_apply(const tn_dns_config *c, tn_dns_change change,
    const tn_dns_record *rec, char *err, size_t errlen)
{
	cf_found found;
	tn_dns_status st;
	size_t i;

	st = list_records(c, rec, &found, err, errlen);
	if (st != TN_DNS_OK) {
		return st;
	}
	if (change == TN_DNS_UPSERT) {
		return upsert(c, rec, &found, err, errlen);
	}

	for (i = 0; i < found.n && st == TN_DNS_OK; i++) {
		st = delete_record(c, rec, &found.records[i], err, errlen);
	}
	return st;
}
