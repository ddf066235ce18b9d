/* PowerDNS: records through its HTTP API, one PATCH of the zone a change. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "dns_provider.h"
#include "outbound.h"

/*
 * One rrset entry of a zone PATCH: REPLACE with the record's value, or
 * DELETE of the given type at the record's name.
 */
static json_object *
rrset_change(const tn_dns_record *rec, const char *type, int replace)
{
	json_object *set, *records, *record;
	char name[TN_DNS_NAME_MAX + 2], content[TN_DNS_NAME_MAX + 2];

	snprintf(name, sizeof(name), "%s.", rec->name);

	set = json_object_new_object();
	json_object_object_add(set, "name", json_object_new_string(name));
	json_object_object_add(set, "type", json_object_new_string(type));
	json_object_object_add(set, "changetype",
	    json_object_new_string(replace ? "REPLACE" : "DELETE"));
	if (!replace) {
		return set;
	}

	/* a CNAME's target is a fully qualified name, with its dot */
	snprintf(content, sizeof(content), "%s%s", rec->value,
	    strcmp(rec->type, "CNAME") == 0 ? "." : "");

	record = json_object_new_object();
	json_object_object_add(
	    record, "content", json_object_new_string(content));
	json_object_object_add(record, "disabled", json_object_new_boolean(0));
	records = json_object_new_array();
	json_object_array_add(records, record);

	json_object_object_add(set, "ttl", json_object_new_int64(rec->ttl));
	json_object_object_add(set, "records", records);
	return set;
}

/*
 * The PATCH body: an upsert removes the other types first (a CNAME
 * shares its name with nothing else) and replaces its own; a delete
 * removes all three, so that a record survives no change of target.
 */
static json_object *
patch_body(tn_dns_change change, const tn_dns_record *rec)
{
	json_object *body, *rrsets;
	size_t i;

	rrsets = json_object_new_array();
	for (i = 0; i < 3; i++) {
		if (change == TN_DNS_DELETE ||
		    strcmp(tn_dns_types[i], rec->type) != 0) {
			json_object_array_add(
			    rrsets, rrset_change(rec, tn_dns_types[i], 0));
		}
	}
	if (change == TN_DNS_UPSERT) {
		json_object_array_add(rrsets, rrset_change(rec, rec->type, 1));
	}

	body = json_object_new_object();
	json_object_object_add(body, "rrsets", rrsets);
	return body;
}

tn_dns_status
tn_dns_powerdns_apply(const tn_dns_config *c, tn_dns_change change,
    const tn_dns_record *rec, char *err, size_t errlen)
{
	tn_outbound_request rq = {0};
	tn_outbound_response rs = {0};
	tn_dns_status st = TN_DNS_REFUSED;
	tn_outbound_status os;
	json_object *body;
	char url[TN_DNS_URL_MAX + TN_DNS_NAME_MAX + 64];
	char message[TN_OUTBOUND_MESSAGE_MAX + 1];

	snprintf(url, sizeof(url), "%s/api/v1/servers/localhost/zones/%s.",
	    c->base_url, c->zone);
	body = patch_body(change, rec);

	rq.method = "PATCH";
	rq.url = url;
	rq.body = json_object_to_json_string_length(
	    body, JSON_C_TO_STRING_PLAIN, &rq.body_len);
	if (tn_outbound_header(&rq.headers, "X-API-Key", c->api_secret) ||
	    tn_outbound_header(
	        &rq.headers, "Content-Type", "application/json") ||
	    tn_outbound_header(&rq.headers, "Accept", "application/json")) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	os = tn_outbound_send(&rq, &rs, err, errlen);
	if (os != TN_OUTBOUND_OK) {
		st = TN_DNS_UNREACHABLE;
		goto done;
	}
	if (rs.status == 204 || rs.status == 200) {
		st = TN_DNS_OK;
		goto done;
	}

	tn_outbound_error_message(message, sizeof(message), &rs, "error");
	tn_dns_redact(c, message, sizeof(message));
	snprintf(err, errlen,
	    "PowerDNS refused to %s %s in zone %s (HTTP %ld): %s",
	    change == TN_DNS_UPSERT ? "set" : "remove", rec->name, c->zone,
	    rs.status, message);

done:
	tn_outbound_response_free(&rs);
	tn_outbound_headers_free(rq.headers);
	json_object_put(body);
	return st;
}
