/*
 * tenantctl's commands that make a tenant whole: create one, export one
 * into a single file, import such a file into this database.
 */
#ifndef TN_TRANSFER_H
#define TN_TRANSFER_H

#include <stdio.h>

#include "db.h"
#include "settings.h"

/* The usage lines of these commands. */
void tn_transfer_usage(FILE *out);

/* Is argv (tenantctl's own) one of these commands? */
int tn_transfer_handles(int argc, char **argv);

/*
 * Runs the command: "tenant create", "export" or "import". Returns the
 * process's exit code; messages go to stdout and stderr.
 */
int tn_transfer_run(tn_db *db, const tn_settings *s, int argc, char **argv);

#endif
