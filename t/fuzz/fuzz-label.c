/*
 * Fuzzes the host-name parsers: a tenant's subdomain (and the schema name
 * derived from it) and a custom domain's host name.
 */
#include "config.h"

#include <ctype.h>
#include <strings.h>

#include "fuzz.h"
#include "handlers.h"
#include "tenant.h"

/* Names no tenant may take (a few of them, as the README lists them). */
static const char *const never[] = {"www", "admin", "api", "mail", "public",
    "postgres", "tenantry", "information-schema", NULL};

/* Checks a label the tenant rules accepted, without their code. */
static void
check_label(const char *label)
{
	size_t len = strlen(label), i;

	FUZZ_CHECK(len >= 1 && len <= 63, "a label is 1 to 63 bytes");
	for (i = 0; i < len; i++) {
		FUZZ_CHECK(islower((unsigned char)label[i]) ||
		        isdigit((unsigned char)label[i]) || label[i] == '-',
		    "a label is lower-case letters, digits and hyphens");
	}
	FUZZ_CHECK(label[0] != '-' && label[len - 1] != '-',
	    "a label has inner hyphens only");
	FUZZ_CHECK(strncmp(label, "pg", 2) != 0, "no label starts with pg");
	for (i = 0; never[i] != NULL; i++) {
		FUZZ_CHECK(strcmp(label, never[i]) != 0, "a reserved name");
	}
}

/* Checks the schema name of an accepted label. */
static void
check_schema(const char *label)
{
	char *schema = malloc(TN_LABEL_MAX + 1), again[TN_LABEL_MAX + 1];
	size_t len = strlen(label), slen, i;

	/* exactly the size the contract names, so ASan sees any overrun */
	tn_tenant_schema_name(label, schema);
	tn_tenant_schema_name(label, again);
	slen = strlen(schema);

	FUZZ_CHECK(strcmp(schema, again) == 0, "schema names are stable");
	FUZZ_CHECK(slen >= 3 && slen <= 63, "a schema name is 3 to 63 bytes");
	FUZZ_CHECK((schema[0] == 't' || schema[0] == 'h') && schema[1] == '_',
	    "a schema name starts with t_ or h_");
	for (i = 2; i < slen; i++) {
		FUZZ_CHECK(islower((unsigned char)schema[i]) ||
		        isdigit((unsigned char)schema[i]) || schema[i] == '_',
		    "a schema name is [a-z0-9_]");
	}
	FUZZ_CHECK(
	    strcmp(schema, "public") != 0 && strncmp(schema, "pg_", 3) != 0,
	    "a schema name is none of PostgreSQL's own");

	if (len <= 61) {
		FUZZ_CHECK(schema[0] == 't' && slen == len + 2,
		    "a short label keeps its whole name");
		for (i = 0; i < len; i++) {
			/* underscores stand only for hyphens: one label each */
			FUZZ_CHECK(
			    schema[2 + i] == (label[i] == '-' ? '_' : label[i]),
			    "t_ and the label, hyphens as underscores");
		}
	} else {
		FUZZ_CHECK(schema[0] == 'h' && slen == 63 && schema[50] == '_',
		    "a long label is h_, its start, _ and a hash");
		FUZZ_CHECK(strspn(schema + 51, "0123456789abcdef") == 12,
		    "the hash is 12 hex digits");
	}
	free(schema);
}

/* Checks a host name tn_domain_normalise accepted as out. */
static void
check_host(const char *in, const char *main_domain, const char *out)
{
	char *again = malloc(256), *upper;
	size_t len = strlen(out), i, label = 0, labels = 1, mlen;
	int digits = 1;

	FUZZ_CHECK(len >= 1 && len <= 253, "a host is 1 to 253 bytes");
	FUZZ_CHECK(strncasecmp(in, out, len) == 0 &&
	        (in[len] == '\0' || (in[len] == '.' && in[len + 1] == '\0')),
	    "the stored form is the host in lower case, no trailing dot");
	for (i = 0; i < len; i++) {
		if (out[i] == '.') {
			FUZZ_CHECK(label > 0 && out[i - 1] != '-',
			    "labels are not empty and end in a letter or digit");
			label = 0;
			labels++;
			digits = 1;
			continue;
		}
		FUZZ_CHECK(islower((unsigned char)out[i]) ||
		        isdigit((unsigned char)out[i]) || out[i] == '-',
		    "a host is lower-case letters, digits, hyphens and dots");
		FUZZ_CHECK(
		    out[i] != '-' || label > 0, "no label starts with -");
		FUZZ_CHECK(++label <= 63, "a label is at most 63 bytes");
		digits = digits && isdigit((unsigned char)out[i]);
	}
	FUZZ_CHECK(label > 0 && out[len - 1] != '-' && labels >= 2 && !digits,
	    "a host has a domain and is no address");

	mlen = strlen(main_domain);
	FUZZ_CHECK(strcmp(out, main_domain) != 0 &&
	        !(len > mlen && out[len - mlen - 1] == '.' &&
	            strcmp(out + len - mlen, main_domain) == 0),
	    "the main domain and its subdomains are refused");

	/* the stored form is stored as it is: normalising it changes nothing */
	FUZZ_CHECK(tn_domain_normalise(out, main_domain, again, 256) == NULL &&
	        strcmp(again, out) == 0,
	    "normalising is idempotent");

	upper = strdup(in);
	for (i = 0; upper[i] != '\0'; i++) {
		upper[i] = (char)toupper((unsigned char)upper[i]);
	}
	FUZZ_CHECK(
	    tn_domain_normalise(upper, main_domain, again, 256) == NULL &&
	        strcmp(again, out) == 0,
	    "host names are compared without case");
	free(upper);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[2], *problem, *main_domain;
	char *copy, *out, host[128];

	copy = fuzz_fields(data, size, fields, 2);
	main_domain = *fields[1] != '\0' ? fields[1] : "localhost";

	problem = tn_tenant_label_problem(fields[0]);
	FUZZ_CHECK(problem == tn_tenant_label_problem(fields[0]),
	    "the label rules are deterministic");
	if (problem == NULL) {
		check_label(fields[0]);
		check_schema(fields[0]);

		/* a tenant's label is a host name's label too */
		out = malloc(256);
		snprintf(host, sizeof(host), "%s.example.com", fields[0]);
		FUZZ_CHECK(
		    tn_domain_normalise(host, "localhost", out, 256) == NULL,
		    "a tenant label makes a valid host name");
		free(out);
	} else {
		FUZZ_CHECK(*problem != '\0', "a refusal says why");
	}

	/* the output buffer is exactly the size given, for ASan */
	out = malloc(256);
	problem = tn_domain_normalise(fields[0], main_domain, out, 256);
	if (problem == NULL) {
		check_host(fields[0], main_domain, out);
	}
	free(out);

	free(copy);
	return 0;
}
