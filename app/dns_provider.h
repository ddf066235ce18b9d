/* What dns.c shares with the provider modules dns_*.c and the tests. */
#ifndef TN_DNS_PROVIDER_H
#define TN_DNS_PROVIDER_H

#include <stddef.h>

#include "buf.h"

#define TN_DNS_NAME_MAX 253 /* a host name without its final dot */
#define TN_DNS_URL_MAX  512

typedef enum {
	TN_DNS_NONE = 0,
	TN_DNS_POWERDNS,
	TN_DNS_ROUTE53,
	TN_DNS_CLOUDFLARE
} tn_dns_provider;

typedef enum {
	TN_DNS_OK = 0,
	TN_DNS_BAD_SETTINGS, /* a setting is missing or wrong */
	TN_DNS_REFUSED,      /* the provider answered with an error */
	TN_DNS_UNREACHABLE   /* no answer: connection, timeout, TLS */
} tn_dns_status;

typedef enum { TN_DNS_UPSERT, TN_DNS_DELETE } tn_dns_change;

/* The settings of one call; strings are allocated, secrets wiped. */
typedef struct {
	tn_dns_provider provider;
	char domain[TN_DNS_NAME_MAX + 1]; /* lower case, no final dot */
	char target[TN_DNS_NAME_MAX + 1]; /* host name or address */
	long ttl;

	char base_url[TN_DNS_URL_MAX];  /* the provider's API, no final / */
	char zone[TN_DNS_NAME_MAX + 1]; /* PowerDNS zone, or a zone id */
	char *api_secret;               /* key or token of the provider */

	char *aws_key_id; /* Route 53 */
	char *aws_session_token;
} tn_dns_config;

/* One record as every provider writes it. */
typedef struct {
	char name[TN_DNS_NAME_MAX + 1];  /* subdomain.domain, no final dot */
	const char *type;                /* "CNAME", "A" or "AAAA" */
	char value[TN_DNS_NAME_MAX + 1]; /* address, or host without dot */
	long ttl;
} tn_dns_record;

/* The record types a tenant's name may hold; one of them at a time. */
extern const char *const tn_dns_types[3];

/*
 * Reads the settings of the configured provider. Returns OK or
 * BAD_SETTINGS with a message naming the setting. tn_dns_config_free
 * releases c either way.
 */
tn_dns_status tn_dns_config_load(tn_dns_config *c, char *err, size_t errlen);
void tn_dns_config_free(tn_dns_config *c);

/*
 * Fills rec for a tenant's subdomain. Returns OK, or BAD_SETTINGS when
 * the subdomain is no tenant label or the name is too long.
 */
tn_dns_status tn_dns_record_for(const tn_dns_config *c, const char *subdomain,
    tn_dns_record *rec, char *err, size_t errlen);

/*
 * Checks a host name (letters, digits, hyphens, underscores, dots
 * between labels of 1 to 63 characters; no final dot). 1 when it is one.
 */
int tn_dns_is_host_name(const char *name);

/* Replaces the secrets of c in text with "[redacted]". */
void tn_dns_redact(const tn_dns_config *c, char *text, size_t textlen);

/* The providers: each applies one change to one record. */
tn_dns_status tn_dns_powerdns_apply(const tn_dns_config *c,
    tn_dns_change change, const tn_dns_record *rec, char *err, size_t errlen);
tn_dns_status tn_dns_route53_apply(const tn_dns_config *c, tn_dns_change change,
    const tn_dns_record *rec, char *err, size_t errlen);
tn_dns_status tn_dns_cloudflare_apply(const tn_dns_config *c,
    tn_dns_change change, const tn_dns_record *rec, char *err, size_t errlen);

/* The body of a ChangeResourceRecordSets request, appended to b. */
void tn_dns_route53_body(
    tn_buf *b, tn_dns_change change, const tn_dns_record *rec);

#endif
