/* tenantctl, the operator's command line: migrations and tenants. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "db.h"
#include "lifecycle.h"
#include "log.h"
#include "settings.h"
#include "vault.h"
#include "tenant.h"
#include "transfer.h"

static void
usage(FILE *out)
{
	fputs("usage: tenantctl migrate [--tenant SUBDOMAIN ...] [--jobs N]"
	      " [--dry-run]\n"
	      "                         [--json] [--fail-fast]\n"
	      "       tenantctl exec (--tenant SUBDOMAIN ... | --all) -c SQL"
	      " [--jobs N]\n"
	      "                      [--json]\n"
	      "       tenantctl tenant list\n"
	      "       tenantctl tenant show SUBDOMAIN\n"
	      "       tenantctl tenant suspend|resume SUBDOMAIN\n"
	      "       tenantctl tenant delete [--purge] SUBDOMAIN\n"
	      "       tenantctl tenant retry SUBDOMAIN\n"
	      "       tenantctl tenant domains SUBDOMAIN\n",
	    out);
	tn_transfer_usage(out);
	fputs("Settings come from the environment (TENANTRY_DATABASE_URL,\n"
	      "TENANTRY_DB_DIR); see the README.\n",
	    out);
}

static int
cmd_tenant_list(tn_db *db, const char *subdomain)
{
	const char *params[1] = {subdomain};
	tn_db_status st;
	tn_tenant t;
	PGresult *r;
	int i, n;

	r = tn_db_query(db,
	    subdomain ? "SELECT " TN_TENANT_COLUMNS " FROM public.tenants t"
	                " WHERE t.subdomain = $1"
	              : "SELECT " TN_TENANT_COLUMNS " FROM public.tenants t"
	                " ORDER BY t.subdomain",
	    subdomain ? 1 : 0, subdomain ? params : NULL, &st);
	if (r == NULL) {
		fprintf(stderr, "tenantctl: %s\n", db->error);
		return 1;
	}

	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		tn_tenant_from_row(&t, r, i);
		printf("%-24s %-12s %-24s %s\n", t.subdomain, t.status,
		    t.schema, t.name);
	}
	PQclear(r);

	if (subdomain != NULL && n == 0) {
		fprintf(stderr, "tenantctl: no tenant \"%s\"\n", subdomain);
		return 1;
	}
	return 0;
}

/* The tenant's custom host names, the primary one marked. */
static int
cmd_tenant_domains(tn_db *db, const char *subdomain)
{
	const char *params[1] = {subdomain};
	tn_db_status st;
	PGresult *r;
	int i;

	r = tn_db_query(db,
	    "SELECT d.host, d.is_primary, t.id IS NOT NULL"
	    " FROM public.tenants t LEFT JOIN public.tenant_domains d"
	    " ON d.tenant_id = t.id WHERE t.subdomain = $1 ORDER BY d.host",
	    1, params, &st);
	if (r == NULL) {
		fprintf(stderr, "tenantctl: %s\n", db->error);
		return 1;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		fprintf(stderr, "tenantctl: no tenant \"%s\"\n", subdomain);
		return 1;
	}
	for (i = 0; i < PQntuples(r); i++) {
		if (!PQgetisnull(r, i, 0)) {
			printf("%s%s\n", PQgetvalue(r, i, 0),
			    PQgetvalue(r, i, 1)[0] == 't' ? " (primary)" : "");
		}
	}
	PQclear(r);
	return 0;
}

/* suspend, resume, delete, purge and retry: the admin API's steps */
static int
cmd_tenant_change(tn_db *db, const char *db_dir, const char *verb,
    const char *subdomain, int purge)
{
	tn_onboard_status os;
	tn_tenant t;
	char err[512];

	if (purge) {
		os = tn_lifecycle_purge(db, subdomain, err, sizeof(err));
	} else if (strcmp(verb, "retry") == 0) {
		os = tn_onboard_retry(
		    db, db_dir, subdomain, &t, err, sizeof(err));
	} else {
		os = tn_lifecycle_change(db, subdomain,
		    strcmp(verb, "suspend") == 0      ? TN_LIFE_SUSPEND
		        : strcmp(verb, "resume") == 0 ? TN_LIFE_RESUME
		                                      : TN_LIFE_DELETE,
		    &t, err, sizeof(err));
	}

	switch (os) {
	case TN_ONBOARD_OK:
		printf("%s: %s\n", subdomain, purge ? "purged" : t.status);
		return 0;
	case TN_ONBOARD_NOT_FOUND:
		fprintf(stderr, "tenantctl: no tenant \"%s\"\n", subdomain);
		return 1;
	default:
		fprintf(stderr, "tenantctl: %s: %s\n", subdomain, err);
		return 1;
	}
}

int
main(int argc, char **argv)
{
	tn_settings s;
	char err[256];
	tn_db db;
	int rc = 2;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* the command reports for itself; the log only adds trouble */
	tn_log_threshold(TN_LOG_ERROR);

	if (sodium_init() < 0) {
		fprintf(stderr, "tenantctl: cannot initialise libsodium\n");
		return 1;
	}
	if (tn_vault_load(err, sizeof(err)) != 0 ||
	    tn_settings_load(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, "tenantctl: %s\n", err);
		return 1;
	}

	tn_db_init(&db, s.database_url, 0);
	if (tn_db_ensure(&db) != TN_DB_OK) {
		fprintf(stderr, "tenantctl: cannot connect: %s\n", db.error);
		tn_settings_free(&s);
		return 1;
	}

	if (strcmp(argv[1], "migrate") == 0) {
		rc = tn_ctl_migrate(&db, &s, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "exec") == 0) {
		rc = tn_ctl_exec(&db, &s, argc - 1, argv + 1);
	} else if (strcmp(argv[1], "tenant") == 0 && argc == 3 &&
	    strcmp(argv[2], "list") == 0) {
		rc = cmd_tenant_list(&db, NULL);
	} else if (strcmp(argv[1], "tenant") == 0 && argc == 4 &&
	    strcmp(argv[2], "show") == 0) {
		rc = cmd_tenant_list(&db, argv[3]);
	} else if (strcmp(argv[1], "tenant") == 0 && argc == 4 &&
	    (strcmp(argv[2], "suspend") == 0 ||
	        strcmp(argv[2], "resume") == 0 ||
	        strcmp(argv[2], "delete") == 0 ||
	        strcmp(argv[2], "retry") == 0)) {
		rc = cmd_tenant_change(&db, s.db_dir, argv[2], argv[3], 0);
	} else if (strcmp(argv[1], "tenant") == 0 && argc == 4 &&
	    strcmp(argv[2], "domains") == 0) {
		rc = cmd_tenant_domains(&db, argv[3]);
	} else if (strcmp(argv[1], "tenant") == 0 && argc == 5 &&
	    strcmp(argv[2], "delete") == 0 && strcmp(argv[3], "--purge") == 0) {
		rc = cmd_tenant_change(&db, s.db_dir, argv[2], argv[4], 1);
	} else if (tn_transfer_handles(argc, argv)) {
		rc = tn_transfer_run(&db, &s, argc, argv);
	} else {
		usage(stderr);
	}

	tn_db_close(&db);
	tn_settings_free(&s);
	return rc;
}
