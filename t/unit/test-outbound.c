/*
 * The outside-world modules without a network: settings, records, request
 * bodies, error messages and redaction of DNS, pipelines and Vault.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_provider.h"
#include "outbound.h"
#include "pipeline.h"
#include "tap.h"
#include "vault.h"

/* Clears every setting the modules read, so the test starts clean. */
static void
clear_settings(void)
{
	static const char *const names[] = {"TENANTRY_DOMAIN",
	    "TENANTRY_DNS_PROVIDER", "TENANTRY_DNS_TARGET", "TENANTRY_DNS_TTL",
	    "TENANTRY_DNS_ZONE", "TENANTRY_DNS_POWERDNS_URL",
	    "TENANTRY_DNS_POWERDNS_KEY", "TENANTRY_DNS_POWERDNS_KEY_FILE",
	    "TENANTRY_DNS_ROUTE53_URL", "TENANTRY_DNS_ROUTE53_ZONE_ID",
	    "TENANTRY_DNS_AWS_ACCESS_KEY_ID",
	    "TENANTRY_DNS_AWS_ACCESS_KEY_ID_FILE",
	    "TENANTRY_DNS_AWS_SECRET_ACCESS_KEY",
	    "TENANTRY_DNS_AWS_SECRET_ACCESS_KEY_FILE",
	    "TENANTRY_DNS_AWS_SESSION_TOKEN",
	    "TENANTRY_DNS_AWS_SESSION_TOKEN_FILE",
	    "TENANTRY_DNS_CLOUDFLARE_URL", "TENANTRY_DNS_CLOUDFLARE_ZONE_ID",
	    "TENANTRY_DNS_CLOUDFLARE_TOKEN",
	    "TENANTRY_DNS_CLOUDFLARE_TOKEN_FILE", "TENANTRY_GITHUB_REPOSITORY",
	    "TENANTRY_GITHUB_TOKEN", "TENANTRY_GITHUB_TOKEN_FILE",
	    "TENANTRY_GITHUB_API_URL", "TENANTRY_VAULT_ADDR",
	    "TENANTRY_VAULT_TOKEN", "TENANTRY_VAULT_TOKEN_FILE",
	    "TENANTRY_VAULT_PATH", NULL};
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		unsetenv(names[i]);
	}
}

static void
test_redact(void)
{
	const char *secrets[] = {"s3cret", NULL, "", "tok"};
	char text[64];

	snprintf(text, sizeof(text), "key s3cret and s3cret, tok!");
	tn_outbound_redact(text, sizeof(text), secrets, 4);
	is_str(text, "key [redacted] and [redacted], [redacted]!",
	    "every occurrence of every secret is redacted");

	snprintf(text, 16, "a s3cret b");
	tn_outbound_redact(text, 16, secrets, 1);
	is_str(text, "a [redacted] b", "redaction stays within the buffer");

	snprintf(text, sizeof(text), "nothing here");
	tn_outbound_redact(text, sizeof(text), secrets, 4);
	is_str(text, "nothing here", "text without secrets is kept");
}

static void
test_messages(void)
{
	tn_outbound_response rs = {0};
	char out[TN_OUTBOUND_MESSAGE_MAX + 1];
	char url[64];

	is_str(tn_outbound_message(out, sizeof(out), "one\ntwo"), "one",
	    "a message is its first line");
	is_str(tn_outbound_message(out, sizeof(out), "a\tb\x01"),
	    "a\\x09b\\x01", "control bytes are escaped");

	tn_buf_puts(&rs.body, "{\"message\": \"Bad credentials\"}");
	is_str(tn_outbound_error_message(out, sizeof(out), &rs, "message"),
	    "Bad credentials", "a string member is the message");
	tn_buf_reset(&rs.body);
	tn_buf_puts(&rs.body, "{\"errors\": [\"permission denied\"]}");
	is_str(tn_outbound_error_message(out, sizeof(out), &rs, "errors"),
	    "permission denied", "an array's first string is the message");
	tn_buf_reset(&rs.body);
	tn_buf_puts(&rs.body,
	    "{\"errors\": [{\"code\": 9109, \"message\": \"Invalid\"}]}");
	is_str(tn_outbound_error_message(out, sizeof(out), &rs, "errors"),
	    "Invalid", "an array's first object's message is the message");
	tn_buf_reset(&rs.body);
	tn_buf_puts(&rs.body, "Unauthorized\n");
	is_str(tn_outbound_error_message(out, sizeof(out), &rs, "error"),
	    "Unauthorized", "a body that is no JSON is its own message");
	tn_buf_reset(&rs.body);
	tn_buf_puts(&rs.body, "");
	is_str(tn_outbound_error_message(out, sizeof(out), &rs, "error"),
	    "(no message)", "an empty body says so");
	tn_outbound_response_free(&rs);

	ok(tn_outbound_base_url(url, sizeof(url), "https://x.test//") == 0 &&
	        strcmp(url, "https://x.test") == 0,
	    "a base URL loses its trailing slashes");
	ok(tn_outbound_base_url(url, sizeof(url), "ftp://x.test") == -1,
	    "only http and https URLs are taken");
}

static void
test_host_names(void)
{
	ok(tn_dns_is_host_name("example.com"), "example.com is a host name");
	ok(tn_dns_is_host_name("lb-1.eu_west.example.net"),
	    "hyphens and underscores inside labels");
	ok(!tn_dns_is_host_name("-a.example.com"), "no leading hyphen");
	ok(!tn_dns_is_host_name("a..example.com"), "no empty label");
	ok(!tn_dns_is_host_name("a.example.com."), "no final dot here");
	ok(!tn_dns_is_host_name("a b.example.com"), "no space");
	ok(!tn_dns_is_host_name("a<b>.example.com"), "no markup");
	ok(!tn_dns_is_host_name(""), "not empty");
}

/* Loads the DNS settings and returns the message ("" when they load). */
static const char *
load_error(tn_dns_config *c)
{
	static char err[512];

	err[0] = '\0';
	if (tn_dns_config_load(c, err, sizeof(err)) == TN_DNS_OK) {
		err[0] = '\0';
	}
	return err;
}

static void
test_dns_settings(void)
{
	tn_dns_config c;
	char err[512];

	clear_settings();
	is_str(load_error(&c), "", "no provider loads");
	ok(c.provider == TN_DNS_NONE && !tn_dns_enabled(), "as none");
	tn_dns_config_free(&c);
	ok(tn_dns_upsert("acme", err, sizeof(err)) == 0 &&
	        tn_dns_delete("acme", err, sizeof(err)) == 0,
	    "with none, upsert and delete succeed without doing anything");

	setenv("TENANTRY_DNS_PROVIDER", "bind", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_PROVIDER must be") != NULL,
	    "an unknown provider is refused");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_PROVIDER", "powerdns", 1);
	setenv("TENANTRY_DOMAIN", "Example.TEST.", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_TARGET is required") != NULL,
	    "powerdns needs a target");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_TARGET", "lb.example.net.", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_POWERDNS_URL is required") !=
	        NULL,
	    "powerdns needs its URL");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_POWERDNS_URL", "http://127.0.0.1:1/", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_POWERDNS_KEY (or") != NULL,
	    "powerdns needs its key");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_POWERDNS_KEY_FILE", "/nonexistent/key", 1);
	ok(strstr(load_error(&c),
	       "cannot read TENANTRY_DNS_POWERDNS_KEY_FILE") != NULL,
	    "an unreadable key file is named");
	tn_dns_config_free(&c);
	unsetenv("TENANTRY_DNS_POWERDNS_KEY_FILE");

	setenv("TENANTRY_DNS_POWERDNS_KEY", "pdns-unit-key", 1);
	is_str(load_error(&c), "", "powerdns settings load");
	is_str(c.domain, "example.test", "the domain is lower case, no dot");
	is_str(c.zone, "example.test", "the zone defaults to the domain");
	is_str(c.target, "lb.example.net", "the target loses its dot");
	is_str(c.base_url, "http://127.0.0.1:1", "the URL loses its slash");
	ok(c.ttl == 300, "the TTL defaults to 300");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_ZONE", "other.test", 1);
	ok(strstr(load_error(&c), "does not contain") != NULL,
	    "a zone must contain the domain");
	tn_dns_config_free(&c);
	setenv("TENANTRY_DNS_ZONE", "test", 1);
	is_str(load_error(&c), "", "a parent zone will do");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_TTL", "0", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_TTL must be") != NULL,
	    "a TTL of 0 is refused");
	tn_dns_config_free(&c);
	setenv("TENANTRY_DNS_TTL", "60", 1);
	ok(*load_error(&c) == '\0' && c.ttl == 60, "a TTL of 60 is taken");
	tn_dns_config_free(&c);
}

static void
test_cloud_settings(void)
{
	tn_dns_config c;

	setenv("TENANTRY_DNS_PROVIDER", "route53", 1);
	setenv("TENANTRY_DNS_ROUTE53_ZONE_ID", "/hostedzone/Z0123ABC", 1);
	setenv("TENANTRY_DNS_AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
	ok(strstr(load_error(&c), "TENANTRY_DNS_AWS_SECRET_ACCESS_KEY") != NULL,
	    "route53 needs a secret key");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_AWS_SECRET_ACCESS_KEY", "unit/secret+key", 1);
	is_str(load_error(&c), "", "route53 settings load");
	is_str(c.zone, "Z0123ABC", "the /hostedzone/ prefix is dropped");
	is_str(c.base_url, "https://route53.amazonaws.com",
	    "the endpoint defaults to Route 53's");
	ok(c.aws_session_token == NULL, "the session token is optional");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_ROUTE53_ZONE_ID", "Z01/../x", 1);
	ok(strstr(load_error(&c), "letters and digits only") != NULL,
	    "a zone id cannot carry a path");
	tn_dns_config_free(&c);

	setenv("TENANTRY_DNS_PROVIDER", "cloudflare", 1);
	setenv("TENANTRY_DNS_CLOUDFLARE_ZONE_ID", "0123abcd", 1);
	setenv("TENANTRY_DNS_CLOUDFLARE_TOKEN", "cf-unit-token", 1);
	is_str(load_error(&c), "", "cloudflare settings load");
	is_str(c.base_url, "https://api.cloudflare.com/client/v4",
	    "the API defaults to Cloudflare's");
	tn_dns_config_free(&c);
}

static void
test_records(void)
{
	tn_dns_config c;
	tn_dns_record rec;
	tn_buf body = {0};
	char err[256];

	memset(&c, 0, sizeof(c));
	snprintf(c.domain, sizeof(c.domain), "example.test");
	c.ttl = 120;

	snprintf(c.target, sizeof(c.target), "lb.example.net");
	ok(tn_dns_record_for(&c, "acme", &rec, err, sizeof(err)) == TN_DNS_OK,
	    "a record for acme");
	is_str(rec.name, "acme.example.test", "its name");
	is_str(rec.type, "CNAME", "a host name target makes a CNAME");
	is_str(rec.value, "lb.example.net", "to the target");

	snprintf(c.target, sizeof(c.target), "192.0.2.10");
	tn_dns_record_for(&c, "acme", &rec, err, sizeof(err));
	ok(strcmp(rec.type, "A") == 0 && strcmp(rec.value, "192.0.2.10") == 0,
	    "an IPv4 target makes an A record");

	snprintf(c.target, sizeof(c.target), "2001:DB8:0:0::1");
	tn_dns_record_for(&c, "acme", &rec, err, sizeof(err));
	ok(strcmp(rec.type, "AAAA") == 0 &&
	        strcmp(rec.value, "2001:db8::1") == 0,
	    "an IPv6 target makes an AAAA record, written canonically");

	ok(tn_dns_record_for(&c, "Bad_Label", &rec, err, sizeof(err)) ==
	        TN_DNS_BAD_SETTINGS,
	    "a subdomain that is no tenant label gets no record");

	snprintf(c.target, sizeof(c.target), "lb.example.net");
	tn_dns_record_for(&c, "acme", &rec, err, sizeof(err));
	tn_dns_route53_body(&body, TN_DNS_DELETE, &rec);
	ok(strstr(body.data, "<Action>DELETE</Action>") != NULL &&
	        strstr(body.data, "<Name>acme.example.test.</Name>") != NULL &&
	        strstr(body.data, "<Type>CNAME</Type><TTL>120</TTL>") != NULL &&
	        strstr(body.data, "<Value>lb.example.net</Value>") != NULL,
	    "the Route 53 change batch names action, name, type, TTL, value");
	tn_buf_free(&body);
}

static void
test_pipelines(void)
{
	char err[512];
	int status = -1;

	ok(tn_pipeline_ref_problem("main") == NULL, "main is a ref");
	ok(tn_pipeline_ref_problem("refs/tags/v1.2.3") == NULL,
	    "a tag ref is a ref");
	ok(tn_pipeline_ref_problem("feature/a..b") != NULL, "no ..");
	ok(tn_pipeline_ref_problem("a b") != NULL, "no space");
	ok(tn_pipeline_ref_problem("") != NULL, "not empty");

	clear_settings();
	ok(!tn_pipeline_configured(), "pipelines are not configured");
	ok(tn_pipeline_dispatch("ui", "main", NULL, &status, err,
	       sizeof(err)) == TN_PIPELINE_NOT_CONFIGURED &&
	        status == 0,
	    "a dispatch without settings is not configured");
	ok(strstr(err, "pipelines not configured") != NULL, "and says so: %s",
	    err);

	setenv("TENANTRY_GITHUB_REPOSITORY", "owner/../x", 1);
	setenv("TENANTRY_GITHUB_TOKEN", "ghp-unit", 1);
	ok(tn_pipeline_dispatch("ui", "main", NULL, &status, err,
	       sizeof(err)) == TN_PIPELINE_NOT_CONFIGURED,
	    "a repository that is no owner/name is refused");
	ok(tn_pipeline_dispatch("web", "main", NULL, &status, err,
	       sizeof(err)) == TN_PIPELINE_INVALID,
	    "an unknown pipeline is refused");
	clear_settings();
}

static void
test_vault_settings(void)
{
	char err[512] = "";

	clear_settings();
	ok(tn_vault_load(err, sizeof(err)) == 0,
	    "without TENANTRY_VAULT_ADDR nothing is loaded");

	setenv("TENANTRY_VAULT_ADDR", "http://127.0.0.1:1", 1);
	ok(tn_vault_load(err, sizeof(err)) == -1 &&
	        strstr(err, "TENANTRY_VAULT_TOKEN") != NULL,
	    "an address without a token is an error naming the token");

	setenv("TENANTRY_VAULT_TOKEN", "vault-unit-token", 1);
	setenv("TENANTRY_VAULT_PATH", "../sys/raw", 1);
	ok(tn_vault_load(err, sizeof(err)) == -1 &&
	        strstr(err, "TENANTRY_VAULT_PATH") != NULL,
	    "a path that climbs is refused");
	ok(strstr(err, "vault-unit-token") == NULL,
	    "the message holds no token");
	clear_settings();
}

int
main(void)
{
	test_redact();
	test_messages();
	test_host_names();
	test_dns_settings();
	test_cloud_settings();
	test_records();
	test_pipelines();
	test_vault_settings();
	return done_testing();
}
