/* Settings from the environment; every secret also as NAME_FILE. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"

#ifndef TN_DEFAULT_DB_DIR
#define TN_DEFAULT_DB_DIR "/usr/local/share/tenantry/db"
#endif

static char *
env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		v = fallback;
	}
	return v ? strdup(v) : NULL;
}

/* Parses NAME as an integer in [min, max]; returns -1 on a bad value. */
static int
env_long(const char *name, long fallback, long min, long max, long *out,
    char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0') {
		*out = fallback;
		return 0;
	}

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen,
		    "%s must be an integer from %ld to %ld, got \"%s\"", name,
		    min, max, v);
		return -1;
	}

	*out = n;
	return 0;
}

char *
tn_settings_secret(const char *name, int *failed)
{
	char fname[128];
	char line[4096];
	const char *value, *path;
	char *secret;
	FILE *f;
	size_t n;

	*failed = 0;
	snprintf(fname, sizeof(fname), "%s_FILE", name);
	value = getenv(name);
	path = getenv(fname);

	if (value != NULL && *value != '\0') {
		if (path != NULL && *path != '\0') {
			*failed = 2;
			return NULL;
		}
		return strdup(value);
	}
	if (path == NULL || *path == '\0') {
		return NULL;
	}

	f = fopen(path, "r");
	if (f == NULL) {
		*failed = 1;
		return NULL;
	}

	if (fgets(line, sizeof(line), f) == NULL) {
		line[0] = '\0';
	}
	fclose(f);

	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		*failed = 1;
		return NULL;
	}

	secret = strdup(line);
	explicit_bzero(line, sizeof(line));
	return secret;
}

/* Reads a secret setting; -1 with a message naming it on failure. */
static int
load_secret(const char *name, char **out, char *err, size_t errlen)
{
	int failed;

	*out = tn_settings_secret(name, &failed);
	if (failed == 2) {
		snprintf(err, errlen, "both %s and %s_FILE are set: choose one",
		    name, name);
		return -1;
	}
	if (failed) {
		snprintf(err, errlen,
		    "cannot read the file named by %s_FILE (missing, unreadable or empty)",
		    name);
		return -1;
	}
	return 0;
}

int
tn_settings_load(tn_settings *s, char *err, size_t errlen)
{
	long cpus, n;

	memset(s, 0, sizeof(*s));

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1) {
		cpus = 1;
	}

	if (load_secret(
	        "TENANTRY_DATABASE_URL", &s->database_url, err, errlen) != 0 ||
	    load_secret("TENANTRY_ADMIN_TOKEN", &s->admin_token, err, errlen) !=
	        0) {
		return -1;
	}
	if (s->database_url == NULL) {
		s->database_url = strdup("dbname=tenantry");
	}

	s->domain = env_or("TENANTRY_DOMAIN", "localhost");
	s->listen = env_or("TENANTD_LISTEN", "unix:/run/tenantry/tenantd.sock");
	s->db_dir = env_or("TENANTRY_DB_DIR", TN_DEFAULT_DB_DIR);

	if (env_long("TENANTD_WORKERS", 2 * cpus, 1, 1024, &n, err, errlen)) {
		return -1;
	}
	s->workers = (int)n;

	if (env_long("TENANTD_MAX_REQUESTS", 0, 0, LONG_MAX, &s->max_requests,
	        err, errlen)) {
		return -1;
	}

	if (env_long(
	        "TENANTD_SHUTDOWN_TIMEOUT", 10, 1, 3600, &n, err, errlen)) {
		return -1;
	}
	s->shutdown_timeout = (int)n;

	if (env_long("TENANTD_STATEMENT_TIMEOUT", 5000, 1, 3600000, &n, err,
	        errlen)) {
		return -1;
	}
	s->statement_timeout = (int)n;

	if (env_long(
	        "TENANTD_TENANT_CACHE_MS", 500, 0, 1000, &n, err, errlen)) {
		return -1;
	}
	s->tenant_cache_ms = (int)n;

	if (env_long("TENANTD_MAX_TENANTS_PER_CONNECTION",
	        TN_MAX_TENANTS_PER_CONNECTION, 0, 100000, &n, err, errlen)) {
		return -1;
	}
	s->max_tenants_per_connection = (int)n;

	return 0;
}

void
tn_settings_free(tn_settings *s)
{
	free(s->database_url);
	free(s->domain);
	if (s->admin_token != NULL) {
		explicit_bzero(s->admin_token, strlen(s->admin_token));
	}
	free(s->admin_token);
	free(s->listen);
	free(s->db_dir);
	memset(s, 0, sizeof(*s));
}
