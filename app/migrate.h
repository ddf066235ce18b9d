/* The migration engine: versioned SQL files applied once per schema. */
#ifndef TN_MIGRATE_H
#define TN_MIGRATE_H

/*
 * The advisory lock key of one schema's migrations ($1 is the schema):
 * whoever changes or drops a schema takes it too.
 */
#define TN_MIGRATE_LOCK_KEY "hashtext('tenantry.migrate'), hashtext($1)"

#include <stddef.h>

#include "db.h"

/* A file whose first line is this runs outside a transaction. */
#define TN_MIGRATE_NO_TX_MARK "-- tenantry: no-transaction"

typedef struct {
	char version[5]; /* NNNN */
	char file[128];  /* NNNN_name.sql */
	char checksum[65];
	/* sha256 over the digest before it, this version and checksum */
	char digest[65];
	int no_transaction; /* first line is TN_MIGRATE_NO_TX_MARK */
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
 * message in err naming the file at fault. Each file's digest chains the
 * versions and checksums of all files up to it, so the last file's digest
 * stands for the whole folder.
 */
int tn_migrate_load(
    const char *dir, tn_migration_set *set, char *err, size_t errlen);
void tn_migrate_free(tn_migration_set *set);

/* The newest version of set as a number, 0 when it is empty. */
int tn_migrate_newest(const tn_migration_set *set);

/* The digest of the whole set ("" when it is empty). */
const char *tn_migrate_digest(const tn_migration_set *set);

/* Creates the table that records applied migrations, when missing. */
tn_migrate_status tn_migrate_bootstrap(tn_db *db, char *err, size_t errlen);

/* tn_migrate_schema's flags */
#define TN_MIGRATE_DRY_RUN 1u /* only find what is pending */

/*
 * Applies the pending files of set to schema, each in its own transaction
 * under an advisory lock for the schema (a no-transaction file under a
 * session lock, recorded right after it ran). With role set, files run as
 * that role with search_path set to the schema (a tenant) and the tenant's
 * row in public.tenants gets the new schema_version and schema_digest in
 * the same transaction; without, in public as the login role (the control
 * plane). Applied files whose checksum changed, or that are gone, are
 * refused. *applied counts new files; marks, when not NULL, holds
 * set->count flags set to 1 for each file applied (with
 * TN_MIGRATE_DRY_RUN: each file pending, and nothing changes).
 */
tn_migrate_status tn_migrate_schema(tn_db *db, const tn_migration_set *set,
    const char *schema, const char *role, unsigned flags, unsigned char *marks,
    int *applied, char *err, size_t errlen);

#endif
