/* DNS settings, the record of a subdomain, and the provider to write it. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_provider.h"
#include "log.h"
#include "outbound.h"
#include "settings.h"
#include "tenant.h"

#define TTL_DEFAULT 300
#define TTL_MAX     604800 /* a week */

#define ROUTE53_URL    "https://route53.amazonaws.com"
#define CLOUDFLARE_URL "https://api.cloudflare.com/client/v4"

const char *const tn_dns_types[3] = {"CNAME", "A", "AAAA"};

static const char *const provider_names[] = {
    "none", "powerdns", "route53", "cloudflare"};

typedef tn_dns_status (*provider_apply)(const tn_dns_config *c,
    tn_dns_change change, const tn_dns_record *rec, char *err, size_t errlen);

static const provider_apply providers[] = {
    NULL, tn_dns_powerdns_apply, tn_dns_route53_apply, tn_dns_cloudflare_apply};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int
tn_dns_is_host_name(const char *name)
{
	size_t label = 0, total = strlen(name);
	const char *p;

	if (total == 0 || total > TN_DNS_NAME_MAX) {
		return 0;
	}

	for (p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-') {
				return 0;
			}
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			return 0;
		}
		if ((label == 0 && *p == '-') || ++label > 63) {
			return 0;
		}
	}

	return label > 0 && p[-1] != '-';
}

/* Copies a host name setting in lower case, without a final dot. */
static tn_dns_status
host_setting(const char *name, const char *value, char *out, size_t outlen,
    char *err, size_t errlen)
{
	size_t i, len = strlen(value);

	if (len > 0 && value[len - 1] == '.') {
		len--;
	}
	if (len >= outlen) {
		len = 0;
	}
	for (i = 0; i < len; i++) {
		out[i] = (char)tolower((unsigned char)value[i]);
	}
	out[len] = '\0';

	if (!tn_dns_is_host_name(out)) {
		snprintf(err, errlen, "%s must be a host name, got \"%.100s\"",
		    name, value);
		return TN_DNS_BAD_SETTINGS;
	}
	return TN_DNS_OK;
}

static tn_dns_status
provider_setting(tn_dns_config *c, char *err, size_t errlen)
{
	const char *v = env("TENANTRY_DNS_PROVIDER");
	size_t i;

	if (v == NULL) {
		c->provider = TN_DNS_NONE;
		return TN_DNS_OK;
	}

	for (i = 0; i < sizeof(provider_names) / sizeof(*provider_names); i++) {
		if (strcmp(v, provider_names[i]) == 0) {
			c->provider = (tn_dns_provider)i;
			return TN_DNS_OK;
		}
	}

	snprintf(err, errlen,
	    "TENANTRY_DNS_PROVIDER must be none, powerdns, route53 or cloudflare, got \"%.40s\"",
	    v);
	return TN_DNS_BAD_SETTINGS;
}

static tn_dns_status
ttl_setting(tn_dns_config *c, char *err, size_t errlen)
{
	const char *v = env("TENANTRY_DNS_TTL");
	char *end;
	long n;

	c->ttl = TTL_DEFAULT;
	if (v == NULL) {
		return TN_DNS_OK;
	}

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > TTL_MAX) {
		snprintf(err, errlen,
		    "TENANTRY_DNS_TTL must be an integer from 1 to %d, got \"%.40s\"",
		    TTL_MAX, v);
		return TN_DNS_BAD_SETTINGS;
	}
	c->ttl = n;
	return TN_DNS_OK;
}

static tn_dns_status
target_setting(tn_dns_config *c, char *err, size_t errlen)
{
	const char *v = env("TENANTRY_DNS_TARGET");
	unsigned char addr[16];

	if (v == NULL) {
		snprintf(err, errlen,
		    "TENANTRY_DNS_TARGET is required with TENANTRY_DNS_PROVIDER=%s",
		    provider_names[c->provider]);
		return TN_DNS_BAD_SETTINGS;
	}

	if (inet_pton(AF_INET, v, addr) == 1 ||
	    inet_pton(AF_INET6, v, addr) == 1) {
		snprintf(c->target, sizeof(c->target), "%s", v);
		return TN_DNS_OK;
	}
	return host_setting("TENANTRY_DNS_TARGET", v, c->target,
	    sizeof(c->target), err, errlen);
}

/* Reads a secret setting; a missing one is an error when required. */
static tn_dns_status
secret_setting(const tn_dns_config *c, const char *name, int required,
    char **out, char *err, size_t errlen)
{
	int failed;

	*out = tn_settings_secret(name, &failed);
	if (failed) {
		snprintf(
		    err, errlen, "cannot read %s_FILE (or it is empty)", name);
		return TN_DNS_BAD_SETTINGS;
	}
	if (*out == NULL && required) {
		snprintf(err, errlen,
		    "%s (or %s_FILE) is required with TENANTRY_DNS_PROVIDER=%s",
		    name, name, provider_names[c->provider]);
		return TN_DNS_BAD_SETTINGS;
	}
	return TN_DNS_OK;
}

/* Reads a base URL setting, with a default when fallback is not NULL. */
static tn_dns_status
url_setting(tn_dns_config *c, const char *name, const char *fallback, char *err,
    size_t errlen)
{
	const char *v = env(name);

	if (v == NULL) {
		v = fallback;
	}
	if (v == NULL) {
		snprintf(err, errlen,
		    "%s is required with TENANTRY_DNS_PROVIDER=%s", name,
		    provider_names[c->provider]);
		return TN_DNS_BAD_SETTINGS;
	}
	if (tn_outbound_base_url(c->base_url, sizeof(c->base_url), v) != 0) {
		snprintf(err, errlen,
		    "%s must be an http:// or https:// URL, got \"%.100s\"",
		    name, v);
		return TN_DNS_BAD_SETTINGS;
	}
	return TN_DNS_OK;
}

/* Reads a provider's zone id: letters and digits only. */
static tn_dns_status
zone_id_setting(tn_dns_config *c, const char *name, char *err, size_t errlen)
{
	const char *v = env(name);

	if (v != NULL && strncmp(v, "/hostedzone/", 12) == 0) {
		v += 12;
	}
	if (v == NULL || strlen(v) >= sizeof(c->zone) ||
	    strspn(v,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789") != strlen(v)) {
		snprintf(err, errlen,
		    "%s is required with TENANTRY_DNS_PROVIDER=%s and holds letters and digits only",
		    name, provider_names[c->provider]);
		return TN_DNS_BAD_SETTINGS;
	}
	snprintf(c->zone, sizeof(c->zone), "%s", v);
	return TN_DNS_OK;
}

static tn_dns_status
powerdns_settings(tn_dns_config *c, char *err, size_t errlen)
{
	const char *zone = env("TENANTRY_DNS_ZONE");
	tn_dns_status st;
	size_t dlen, zlen;

	st = url_setting(c, "TENANTRY_DNS_POWERDNS_URL", NULL, err, errlen);
	if (st == TN_DNS_OK) {
		st = secret_setting(c, "TENANTRY_DNS_POWERDNS_KEY", 1,
		    &c->api_secret, err, errlen);
	}
	if (st != TN_DNS_OK) {
		return st;
	}

	st = host_setting("TENANTRY_DNS_ZONE", zone ? zone : c->domain, c->zone,
	    sizeof(c->zone), err, errlen);
	if (st != TN_DNS_OK) {
		return st;
	}

	/* every tenant's name must lie inside the zone */
	dlen = strlen(c->domain);
	zlen = strlen(c->zone);
	if (dlen < zlen || strcmp(c->domain + dlen - zlen, c->zone) != 0 ||
	    (dlen > zlen && c->domain[dlen - zlen - 1] != '.')) {
		snprintf(err, errlen,
		    "TENANTRY_DNS_ZONE \"%s\" does not contain TENANTRY_DOMAIN \"%s\"",
		    c->zone, c->domain);
		return TN_DNS_BAD_SETTINGS;
	}
	return TN_DNS_OK;
}

static tn_dns_status
route53_settings(tn_dns_config *c, char *err, size_t errlen)
{
	tn_dns_status st;

	st = url_setting(
	    c, "TENANTRY_DNS_ROUTE53_URL", ROUTE53_URL, err, errlen);
	if (st == TN_DNS_OK) {
		st = zone_id_setting(
		    c, "TENANTRY_DNS_ROUTE53_ZONE_ID", err, errlen);
	}
	if (st == TN_DNS_OK) {
		st = secret_setting(c, "TENANTRY_DNS_AWS_ACCESS_KEY_ID", 1,
		    &c->aws_key_id, err, errlen);
	}
	if (st == TN_DNS_OK) {
		st = secret_setting(c, "TENANTRY_DNS_AWS_SECRET_ACCESS_KEY", 1,
		    &c->api_secret, err, errlen);
	}
	if (st == TN_DNS_OK) {
		st = secret_setting(c, "TENANTRY_DNS_AWS_SESSION_TOKEN", 0,
		    &c->aws_session_token, err, errlen);
	}
	return st;
}

static tn_dns_status
cloudflare_settings(tn_dns_config *c, char *err, size_t errlen)
{
	tn_dns_status st;

	st = url_setting(
	    c, "TENANTRY_DNS_CLOUDFLARE_URL", CLOUDFLARE_URL, err, errlen);
	if (st == TN_DNS_OK) {
		st = zone_id_setting(
		    c, "TENANTRY_DNS_CLOUDFLARE_ZONE_ID", err, errlen);
	}
	if (st == TN_DNS_OK) {
		st = secret_setting(c, "TENANTRY_DNS_CLOUDFLARE_TOKEN", 1,
		    &c->api_secret, err, errlen);
	}
	return st;
}

tn_dns_status
tn_dns_config_load(tn_dns_config *c, char *err, size_t errlen)
{
	const char *domain = env("TENANTRY_DOMAIN");
	tn_dns_status st;

	memset(c, 0, sizeof(*c));

	st = provider_setting(c, err, errlen);
	if (st != TN_DNS_OK || c->provider == TN_DNS_NONE) {
		return st;
	}

	st = host_setting("TENANTRY_DOMAIN", domain ? domain : "localhost",
	    c->domain, sizeof(c->domain), err, errlen);
	if (st == TN_DNS_OK) {
		st = target_setting(c, err, errlen);
	}
	if (st == TN_DNS_OK) {
		st = ttl_setting(c, err, errlen);
	}
	if (st != TN_DNS_OK) {
		return st;
	}

	switch (c->provider) {
	case TN_DNS_POWERDNS:
		return powerdns_settings(c, err, errlen);
	case TN_DNS_ROUTE53:
		return route53_settings(c, err, errlen);
	case TN_DNS_CLOUDFLARE:
		return cloudflare_settings(c, err, errlen);
	default:
		return TN_DNS_OK;
	}
}

static void
wipe(char **secret)
{
	if (*secret != NULL) {
		explicit_bzero(*secret, strlen(*secret));
		free(*secret);
		*secret = NULL;
	}
}

void
tn_dns_config_free(tn_dns_config *c)
{
	wipe(&c->api_secret);
	wipe(&c->aws_key_id);
	wipe(&c->aws_session_token);
}

void
tn_dns_redact(const tn_dns_config *c, char *text, size_t textlen)
{
	const char *secrets[3];

	secrets[0] = c->api_secret;
	secrets[1] = c->aws_key_id;
	secrets[2] = c->aws_session_token;
	tn_outbound_redact(text, textlen, secrets, 3);
}

tn_dns_status
tn_dns_record_for(const tn_dns_config *c, const char *subdomain,
    tn_dns_record *rec, char *err, size_t errlen)
{
	const char *problem = tn_tenant_label_problem(subdomain);
	unsigned char addr[16];
	int n;

	memset(rec, 0, sizeof(*rec));

	if (problem != NULL) {
		snprintf(err, errlen, "no DNS record for \"%.70s\": %s",
		    subdomain, problem);
		return TN_DNS_BAD_SETTINGS;
	}

	n = snprintf(
	    rec->name, sizeof(rec->name), "%s.%s", subdomain, c->domain);
	if (n < 0 || (size_t)n >= sizeof(rec->name)) {
		snprintf(err, errlen, "%s.%s is longer than a host name may be",
		    subdomain, c->domain);
		return TN_DNS_BAD_SETTINGS;
	}

	rec->ttl = c->ttl;
	if (inet_pton(AF_INET, c->target, addr) == 1) {
		rec->type = "A";
		inet_ntop(AF_INET, addr, rec->value, sizeof(rec->value));
	} else if (inet_pton(AF_INET6, c->target, addr) == 1) {
		rec->type = "AAAA";
		inet_ntop(AF_INET6, addr, rec->value, sizeof(rec->value));
	} else {
		rec->type = "CNAME";
		snprintf(rec->value, sizeof(rec->value), "%s", c->target);
	}
	return TN_DNS_OK;
}

int
tn_dns_enabled(void)
{
	const char *v = env("TENANTRY_DNS_PROVIDER");

	return v != NULL && strcmp(v, "none") != 0;
}

int
tn_dns_check(char *err, size_t errlen)
{
	tn_dns_config c;
	tn_dns_status st;

	st = tn_dns_config_load(&c, err, errlen);
	tn_dns_config_free(&c);
	return st == TN_DNS_OK ? 0 : -1;
}

/* Loads the settings and applies one change at the provider. */
static int
dns_apply(tn_dns_change change, const char *subdomain, char *err, size_t errlen)
{
	tn_dns_record rec;
	tn_dns_config c;
	tn_dns_status st;
	int result = -1;

	st = tn_dns_config_load(&c, err, errlen);
	if (st != TN_DNS_OK) {
		goto done;
	}
	if (c.provider == TN_DNS_NONE) {
		result = 0;
		goto done;
	}

	st = tn_dns_record_for(&c, subdomain, &rec, err, errlen);
	if (st != TN_DNS_OK) {
		goto done;
	}

	st = providers[c.provider](&c, change, &rec, err, errlen);
	if (st != TN_DNS_OK) {
		tn_dns_redact(&c, err, errlen);
		goto done;
	}

	if (change == TN_DNS_UPSERT) {
		tn_log(TN_LOG_NOTICE, "dns: %s %s %s set at %s", rec.name,
		    rec.type, rec.value, provider_names[c.provider]);
	} else {
		tn_log(TN_LOG_NOTICE, "dns: %s removed at %s", rec.name,
		    provider_names[c.provider]);
	}
	result = 0;

done:
	tn_dns_config_free(&c);
	return result;
}

int
tn_dns_upsert(const char *subdomain, char *err, size_t errlen)
{
	return dns_apply(TN_DNS_UPSERT, subdomain, err, errlen);
}

int
tn_dns_delete(const char *subdomain, char *err, size_t errlen)
{
	return dns_apply(TN_DNS_DELETE, subdomain, err, errlen);
}
