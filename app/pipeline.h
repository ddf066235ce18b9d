/* Deployment pipelines: GitHub Actions workflow dispatches. */
#ifndef TN_PIPELINE_H
#define TN_PIPELINE_H

#include <stddef.h>

#include <json-c/json.h>

/* The pipelines, each a workflow file <name>.yml; NULL-terminated. */
extern const char *const tn_pipeline_names[];

typedef enum {
	TN_PIPELINE_OK = 0,         /* GitHub accepted the dispatch (204) */
	TN_PIPELINE_NOT_CONFIGURED, /* no repository or token, or bad ones */
	TN_PIPELINE_INVALID,        /* no such pipeline, or a bad ref */
	TN_PIPELINE_REFUSED,        /* GitHub answered another status */
	TN_PIPELINE_TIMEOUT,        /* no answer within the bounds */
	TN_PIPELINE_UNREACHABLE     /* no connection, or a broken one */
} tn_pipeline_status;

/*
 * Settings: TENANTRY_GITHUB_REPOSITORY (owner/name), TENANTRY_GITHUB_TOKEN
 * (or _FILE) and TENANTRY_GITHUB_API_URL (default https://api.github.com),
 * read at each call. Returns 1 when repository and token are set.
 */
int tn_pipeline_configured(void);

/* Checks a git ref as given to a dispatch; NULL or the rule it breaks. */
const char *tn_pipeline_ref_problem(const char *ref);

/*
 * Dispatches the workflow <pipeline>.yml of the repository on ref with
 * inputs (an object of strings, or NULL for none). Returns OK when
 * GitHub accepted it; REFUSED with GitHub's status in *status and its
 * message in err; the other failures with a message in err. *status is
 * 0 whenever no answer came. No secret ever reaches err.
 */
tn_pipeline_status tn_pipeline_dispatch(const char *pipeline, const char *ref,
    json_object *inputs, int *status, char *err, size_t errlen);

#endif
