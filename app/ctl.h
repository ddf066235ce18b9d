/* tenantctl's commands over many tenants at once: migrate and exec. */
#ifndef TN_CTL_H
#define TN_CTL_H

#include "db.h"
#include "settings.h"

/*
 * tenantctl migrate [--tenant SUB ...] [--jobs N] [--dry-run] [--json]
 * [--fail-fast]: argv[0] is "migrate". Returns the exit status: 0 when
 * every schema is current, 1 when one failed, 2 on bad arguments. db is
 * closed before the children start.
 */
int tn_ctl_migrate(tn_db *db, const tn_settings *s, int argc, char **argv);

/*
 * tenantctl exec (--tenant SUB ... | --all) -c SQL [--jobs N] [--json]:
 * argv[0] is "exec". Runs one statement in each tenant's scope.
 */
int tn_ctl_exec(tn_db *db, const tn_settings *s, int argc, char **argv);

#endif
