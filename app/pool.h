/*
 * Work over many tenants at once: forked children, each with a database
 * connection of its own, take items one at a time from the parent.
 */
#ifndef TN_POOL_H
#define TN_POOL_H

#include <stddef.h>

#include <json-c/json.h>

#include "db.h"

/*
 * Runs in a child: does item number item on db (connected lazily by the
 * db functions) and returns its result, which the pool frees.
 */
typedef json_object *(*tn_pool_job)(tn_db *db, size_t item, void *ctx);

/*
 * Runs in the parent for each finished item with the job's result, which
 * the callee keeps (and frees). result is NULL when the child died with
 * the item in hand. A non-zero return hands out no more items.
 */
typedef int (*tn_pool_done)(size_t item, json_object *result, void *ctx);

typedef enum {
	TN_POOL_OK = 0,
	TN_POOL_FAILED /* could not start the children; see err */
} tn_pool_status;

/*
 * Runs job on items 0 .. count - 1 with at most jobs children connected to
 * conninfo, and calls done in the parent as each ends. Items not handed
 * out after done asked to stop are left alone: the caller knows them by
 * the calls it did not get. Standard output is flushed before forking.
 */
tn_pool_status tn_pool_run(const char *conninfo, int jobs, size_t count,
    tn_pool_job job, tn_pool_done done, void *ctx, char *err, size_t errlen);

#endif
