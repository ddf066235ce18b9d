/* The request handlers, one file per resource. */
#ifndef TN_HANDLERS_H
#define TN_HANDLERS_H

#include "http.h"
#include "onboard.h"

/* api_health.c */
void tn_api_healthz(tn_req *req);
void tn_api_readyz(tn_req *req);

/* api_tenant.c */
void tn_api_tenant_get(tn_req *req);

/* admin_tenants.c */
void tn_admin_register_user(tn_req *req);
void tn_admin_create_schema(tn_req *req);
void tn_admin_tenants_list(tn_req *req);
void tn_admin_tenants_show(tn_req *req);
void tn_admin_tenants_suspend(tn_req *req);
void tn_admin_tenants_resume(tn_req *req);
void tn_admin_tenants_delete(tn_req *req);
void tn_admin_tenants_retry(tn_req *req);

/* admin_domains.c */
void tn_admin_domains_list(tn_req *req);
void tn_admin_domains_add(tn_req *req);
void tn_admin_domains_delete(tn_req *req);

/* admin_pipeline.c */
void tn_admin_trigger_pipeline(tn_req *req);

/* What a valid trigger-pipeline body asks for; points into the body. */
typedef struct {
	const char *pipeline;
	const char *ref;
	json_object *inputs; /* NULL when none were given */
} tn_pipeline_request;

/*
 * Validates a trigger-pipeline body into pr. Returns the array of field
 * errors (the caller puts it), NULL when the body is valid.
 */
json_object *tn_admin_parse_pipeline_request(
    json_object *body, tn_pipeline_request *pr);

/*
 * Brings a host name into its stored form (lower case, no trailing dot)
 * in out. Returns NULL when it is a valid custom host name, else the rule
 * it breaks.
 */
const char *tn_domain_normalise(
    const char *in, const char *main_domain, char *out, size_t outlen);

/* admin_audit.c: every admin request that changes something is logged */
void tn_admin_audit_record(tn_req *req);
void tn_admin_audit_list(tn_req *req);

/* api_session.c */
void tn_api_session_create(tn_req *req);
void tn_api_session_delete(tn_req *req);
void tn_api_me_get(tn_req *req);
void tn_api_me_update(tn_req *req);

/* api_tokens.c */
void tn_api_tokens_create(tn_req *req);
void tn_api_tokens_list(tn_req *req);
void tn_api_tokens_delete(tn_req *req);

/* api_users.c */
void tn_api_users_list(tn_req *req);
void tn_api_users_create(tn_req *req);
void tn_api_users_update(tn_req *req);
void tn_api_users_delete(tn_req *req);

/* api_projects.c */
void tn_api_projects_list(tn_req *req);
void tn_api_projects_create(tn_req *req);
void tn_api_projects_get(tn_req *req);
void tn_api_projects_update(tn_req *req);
void tn_api_projects_delete(tn_req *req);

/* api_tasks.c */
void tn_api_tasks_list(tn_req *req);
void tn_api_tasks_create(tn_req *req);
void tn_api_tasks_get(tn_req *req);
void tn_api_tasks_update(tn_req *req);
void tn_api_tasks_delete(tn_req *req);

/* status.c: the scoreboard as a status page and as metrics */
void tn_status_page(tn_req *req);
void tn_status_metrics(tn_req *req);

/* Adds the tenant's public fields to doc (shared by admin and api). */
void tn_tenant_json(json_object *doc, const tn_tenant *t);

/* Answers a database failure: 503 when it is away, else 500. */
void tn_answer_db_failure(tn_req *req, tn_db_status st);

#endif
