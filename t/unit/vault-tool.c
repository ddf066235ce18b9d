/*
 * A command-line driver of the Vault module for the tests: loads the
 * secret, then prints a SHA-256 of each named setting, never its value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "settings.h"
#include "vault.h"

/* Prints "NAME sha256:<hex>", "NAME unset" or "NAME unreadable". */
static void
show(const char *name)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	char *value;
	int failed;

	value = tn_settings_secret(name, &failed);
	if (value == NULL) {
		printf("%s %s\n", name, failed ? "unreadable" : "unset");
		return;
	}

	crypto_hash_sha256(hash, (const unsigned char *)value, strlen(value));
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	printf("%s sha256:%s\n", name, hex);

	explicit_bzero(value, strlen(value));
	free(value);
}

int
main(int argc, char **argv)
{
	char err[1024] = "";
	int i, rc;

	rc = tn_vault_load(err, sizeof(err));
	curl_global_cleanup();
	if (rc != 0) {
		fprintf(stderr, "vault-tool: %s\n", err);
		return 1;
	}

	for (i = 1; i < argc; i++) {
		show(argv[i]);
	}
	return 0;
}
