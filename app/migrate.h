/* The migration engine: versioned SQL files applied once per schema. */
#ifndef TN_MIGRATE_H
#define TN_MIGRATE_H

#include <stddef.h>

#include "db.h"

typedef struct {
	char version[5]; /* NNNN */
	char file[128];  /* NNNN_name.sql */
	char checksum[65];
	char *sql;
} tn_migration;

typedef struct {
	tn_migration *files;
	size_t count;
} tn_migration_set;

typedef enum {
	TN_MIGRATE_OK = 0,
	TN_MIGRATE_DB_DOWN,
	TN_MIGRATE_FAILED /* detail in the caller's buffer */
} tn_migrate_status;

/*
 * Reads dir/NNNN_name.sql files in version order. Returns 0, or -1 with a
 * message in err naming the file at fault.
 */
int tn_migrate_load(
    const char *dir, tn_migration_set *set, char *err, size_t errlen);
void tn_migrate_free(tn_migration_set *set);

/* Creates the table that records applied migrations, when missing. */
tn_migrate_status tn_migrate_bootstrap(tn_db *db, char *err, size_t errlen);

/*
 * Applies the pending files of set to schema, each in its own transaction
 * under an advisory lock for the schema. With role set, files run as that
 * role with search_path set to the schema (a tenant); without, in public
 * as the login role (the control plane). Applied files whose checksum
 * changed, or that are gone, are refused. *applied counts new files.
 */
tn_migrate_status tn_migrate_schema(tn_db *db, const tn_migration_set *set,
    const char *schema, const char *role, int *applied, char *err,
    size_t errlen);

#endif
