/* DNS records for tenant subdomains at the configured provider. */
#ifndef TN_DNS_H
#define TN_DNS_H

#include <stddef.h>

/*
 * The provider comes from TENANTRY_DNS_PROVIDER: none (the default; a
 * wildcard record covers every subdomain), powerdns, route53 or
 * cloudflare. The record is <subdomain>.<TENANTRY_DOMAIN>: a CNAME to
 * TENANTRY_DNS_TARGET, or an A or AAAA record when the target is an IPv4
 * or IPv6 address, with TTL TENANTRY_DNS_TTL (default 300). Settings are
 * read at each call, secrets through tn_settings_secret.
 */

/* Whether a provider other than none is configured: 1, 0. */
int tn_dns_enabled(void);

/*
 * Checks the DNS settings without contacting anyone (for start-up).
 * Returns 0, or -1 with a message naming the setting at fault.
 */
int tn_dns_check(char *err, size_t errlen);

/*
 * Creates or replaces the record of a tenant's subdomain. Idempotent.
 * Returns 0 (also when the provider is none), or -1 with the provider's
 * message in err, secrets redacted. Waits at most 15 s per request.
 */
int tn_dns_upsert(const char *subdomain, char *err, size_t errlen);

/*
 * Removes the record of a tenant's subdomain; a record that is not there
 * is success. Returns 0 or -1 as tn_dns_upsert does.
 */
int tn_dns_delete(const char *subdomain, char *err, size_t errlen);

#endif
