/*
 * A command-line driver of the DNS module for the tests: takes its
 * settings from the environment, like tenantd, and changes one record.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "dns.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: dns-tool check | upsert SUBDOMAIN | delete "
	    "SUBDOMAIN\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char err[1024] = "";
	int rc;

	if (argc == 2 && strcmp(argv[1], "check") == 0) {
		rc = tn_dns_check(err, sizeof(err));
	} else if (argc == 3 && strcmp(argv[1], "upsert") == 0) {
		rc = tn_dns_upsert(argv[2], err, sizeof(err));
	} else if (argc == 3 && strcmp(argv[1], "delete") == 0) {
		rc = tn_dns_delete(argv[2], err, sizeof(err));
	} else {
		return usage();
	}

	curl_global_cleanup();
	if (rc != 0) {
		fprintf(stderr, "dns-tool: %s\n", err);
		return 1;
	}
	printf("ok\n");
	return 0;
}
