/* Settings of tenantd and tenantctl, read once from the environment. */
#ifndef TN_SETTINGS_H
#define TN_SETTINGS_H

#include <stddef.h>

/*
 * Distinct tenants a worker's connection serves before it is replaced:
 * each schema touched adds to the backend's catalog caches (see README).
 */
#define TN_MAX_TENANTS_PER_CONNECTION 1000

typedef struct {
	char *database_url; /* libpq connection string */
	char *domain;       /* the main domain, e.g. example.com */
	char *admin_token;  /* NULL when the admin API is disabled */
	char *listen;       /* unix:/path or host:port */
	char *db_dir;       /* folder with public/ and tenant/ migrations */
	int workers;
	long max_requests;     /* 0: never recycle a worker */
	int shutdown_timeout;  /* seconds a graceful stop may take */
	int statement_timeout; /* milliseconds per tenant statement */
	int tenant_cache_ms;   /* how long a resolved tenant is trusted */
	int max_tenants_per_connection; /* before a worker reconnects; 0 never
	                                 */
} tn_settings;

/*
 * Fills s from the environment. Returns 0, or -1 with a message in err
 * naming the setting at fault. Strings are allocated; tn_settings_free
 * releases them.
 */
int tn_settings_load(tn_settings *s, char *err, size_t errlen);
void tn_settings_free(tn_settings *s);

/*
 * Reads the secret NAME from the environment, or from the file named by
 * NAME_FILE (first line, without the line end). Returns an allocated
 * string, or NULL when neither is set. *failed is 1 when the file cannot
 * be read or is empty, 2 when both NAME and NAME_FILE are set.
 */
char *tn_settings_secret(const char *name, int *failed);

#endif
