/* Route 53: ChangeResourceRecordSets, signed by libcurl's AWS SigV4. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dns_provider.h"
#include "outbound.h"

#define ROUTE53_SIGV4 "aws:amz:us-east-1:route53"
#define ROUTE53_XMLNS "https://route53.amazonaws.com/doc/2013-04-01/"

/*
 * Names and values are host names or addresses checked by dns.c, so
 * nothing in them needs XML escaping.
 */
void
tn_dns_route53_body(tn_buf *b, tn_dns_change change, const tn_dns_record *rec)
{
	tn_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	tn_buf_printf(b,
	    "<ChangeResourceRecordSetsRequest xmlns=\"%s\">"
	    "<ChangeBatch><Comment>tenantry</Comment><Changes><Change>",
	    ROUTE53_XMLNS);
	tn_buf_printf(b, "<Action>%s</Action>",
	    change == TN_DNS_UPSERT ? "UPSERT" : "DELETE");
	tn_buf_printf(b,
	    "<ResourceRecordSet><Name>%s.</Name><Type>%s</Type>"
	    "<TTL>%ld</TTL><ResourceRecords><ResourceRecord>"
	    "<Value>%s</Value></ResourceRecord></ResourceRecords>"
	    "</ResourceRecordSet>",
	    rec->name, rec->type, rec->ttl, rec->value);
	tn_buf_puts(b,
	    "</Change></Changes></ChangeBatch>"
	    "</ChangeResourceRecordSetsRequest>\n");
}

/*
 * Copies the text of the first <tag> element of an XML answer into out
 * ("" when there is none). Route 53's error documents are flat enough
 * for this; entities are left as they are.
 */
static void
xml_text(const char *xml, const char *tag, char *out, size_t outlen)
{
	char open[32], close[32];
	const char *start, *end;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);

	start = strstr(xml, open);
	if (start == NULL) {
		return;
	}
	start += strlen(open);
	end = strstr(start, close);
	if (end == NULL) {
		return;
	}

	snprintf(out, outlen, "%.*s", (int)(end - start), start);
}

/*
 * The error code of an answer: its <Code>, or the name of the document
 * for the InvalidChangeBatch form that lists <Messages> instead.
 */
static void
error_code(const char *xml, char *out, size_t outlen)
{
	xml_text(xml, "Code", out, outlen);
	if (out[0] == '\0' && strstr(xml, "<InvalidChangeBatch") != NULL) {
		snprintf(out, outlen, "InvalidChangeBatch");
	}
}

/*
 * A DELETE of a record set that is not there: nothing left to do.
 * XXX: Route 53 deletes only an exact match, so a record written with
 * another target or TTL than today's stays, and the error says so.
 */
static int
already_gone(tn_dns_change change, const char *code, const char *message)
{
	return change == TN_DNS_DELETE &&
	    strcmp(code, "InvalidChangeBatch") == 0 &&
	    strstr(message, "but it was not found") != NULL;
}

/* Describes Route 53's refusal in err. */
static void
refusal(const tn_dns_config *c, tn_dns_change change, const tn_dns_record *rec,
    const tn_outbound_response *rs, char *err, size_t errlen)
{
	char code[64], text[TN_OUTBOUND_MESSAGE_MAX + 1];
	char message[TN_OUTBOUND_MESSAGE_MAX + 1];

	error_code(rs->body.data, code, sizeof(code));
	xml_text(rs->body.data, "Message", text, sizeof(text));
	tn_outbound_message(
	    message, sizeof(message), text[0] != '\0' ? text : rs->body.data);
	tn_dns_redact(c, message, sizeof(message));
	tn_outbound_message(text, sizeof(text), code);

	snprintf(err, errlen,
	    "Route 53 refused to %s %s in hosted zone %s (HTTP %ld%s%s): %s",
	    change == TN_DNS_UPSERT ? "set" : "remove", rec->name, c->zone,
	    rs->status, text[0] != '\0' ? ", " : "", text,
	    message[0] != '\0' ? message : "(no message)");
}

tn_dns_status
tn_dns_route53_apply(const tn_dns_config *c, tn_dns_change change,
    const tn_dns_record *rec, char *err, size_t errlen)
{
	tn_outbound_request rq = {0};
	tn_outbound_response rs = {0};
	tn_dns_status st = TN_DNS_REFUSED;
	tn_outbound_status os;
	tn_buf body = {0};
	char url[TN_DNS_URL_MAX + TN_DNS_NAME_MAX + 64];
	char code[64], message[TN_OUTBOUND_MESSAGE_MAX + 1];

	snprintf(url, sizeof(url), "%s/2013-04-01/hostedzone/%s/rrset",
	    c->base_url, c->zone);
	tn_dns_route53_body(&body, change, rec);

	rq.method = "POST";
	rq.url = url;
	rq.body = body.data;
	rq.body_len = body.len;
	rq.aws_sigv4 = ROUTE53_SIGV4;
	rq.user = c->aws_key_id;
	rq.password = c->api_secret;
	if (tn_outbound_header(&rq.headers, "Content-Type", "text/xml") ||
	    (c->aws_session_token != NULL &&
	        tn_outbound_header(&rq.headers, "x-amz-security-token",
	            c->aws_session_token))) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	os = tn_outbound_send(&rq, &rs, err, errlen);
	if (os != TN_OUTBOUND_OK) {
		st = TN_DNS_UNREACHABLE;
		goto done;
	}
	if (rs.status == 200) {
		st = TN_DNS_OK;
		goto done;
	}

	error_code(rs.body.data, code, sizeof(code));
	xml_text(rs.body.data, "Message", message, sizeof(message));
	if (rs.status == 400 && already_gone(change, code, message)) {
		st = TN_DNS_OK;
		goto done;
	}
	refusal(c, change, rec, &rs, err, errlen);

done:
	tn_outbound_response_free(&rs);
	tn_outbound_headers_free(rq.headers);
	tn_buf_free(&body);
	return st;
}
