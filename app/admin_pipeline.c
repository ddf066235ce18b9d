/* Admin API: POST /admin/trigger-pipeline starts a deployment pipeline. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "pipeline.h"
#include "resource.h"
#include "valid.h"

#define DEFAULT_REF "main"

/* Checks that inputs is an object whose members are all strings. */
static void
check_inputs(tn_valid *v, json_object *inputs)
{
	char field[80];

	if (!json_object_is_type(inputs, json_type_object)) {
		tn_valid_error(v, "inputs", "must be an object of strings");
		return;
	}

	json_object_object_foreach(inputs, key, value)
	{
		if (!json_object_is_type(value, json_type_string)) {
			snprintf(field, sizeof(field), "inputs.%.60s", key);
			tn_valid_error(v, field, "must be a string");
		}
	}
}

json_object *
tn_admin_parse_pipeline_request(json_object *body, tn_pipeline_request *pr)
{
	const char *problem;
	tn_valid v = {0};

	memset(pr, 0, sizeof(*pr));

	tn_valid_enum(
	    &v, body, "pipeline", 1, tn_pipeline_names, &pr->pipeline);

	if (tn_valid_string(&v, body, "ref", 0, 0, 1, 255, 1, &pr->ref) ==
	    TN_FIELD_SET) {
		problem = tn_pipeline_ref_problem(pr->ref);
		if (problem != NULL) {
			tn_valid_error(&v, "ref", problem);
		}
	} else if (pr->ref == NULL) {
		pr->ref = DEFAULT_REF;
	}

	if (json_object_object_get_ex(body, "inputs", &pr->inputs)) {
		check_inputs(&v, pr->inputs);
	}
	return v.errors;
}

/* Answers a dispatch that did not go through; the detail is err. */
static void
answer_failure(tn_req *req, tn_pipeline_status st, int status, const char *err)
{
	switch (st) {
	case TN_PIPELINE_NOT_CONFIGURED:
		tn_http_problem(
		    req, 503, "pipelines-not-configured", err, NULL);
		return;
	case TN_PIPELINE_TIMEOUT:
		tn_http_problem(req, 504, "pipeline-timeout", err, NULL);
		return;
	case TN_PIPELINE_REFUSED:
		break;
	default:
		tn_http_problem(req, 502, "pipeline-unreachable", err, NULL);
		return;
	}

	if (status == 401 || status == 403) {
		tn_http_problem(req, 502, "pipeline-auth-failed", err, NULL);
	} else if (status == 404) {
		tn_http_problem(req, 404, "pipeline-not-found",
		    "unknown pipeline or repository: GitHub knows no such workflow in the repository",
		    NULL);
	} else if (status == 422) {
		tn_http_problem(req, 422, "pipeline-rejected", err, NULL);
	} else {
		tn_http_problem(req, 502, "pipeline-failed", err, NULL);
	}
}

static void
answer_dispatched(tn_req *req, const tn_pipeline_request *pr)
{
	json_object *doc = json_object_new_object();

	json_object_object_add(
	    doc, "pipeline", json_object_new_string(pr->pipeline));
	json_object_object_add(doc, "ref", json_object_new_string(pr->ref));
	json_object_object_add(
	    doc, "status", json_object_new_string("dispatched"));
	tn_http_json(req, 202, doc);
}

/* POST /admin/trigger-pipeline */
void
tn_admin_trigger_pipeline(tn_req *req)
{
	json_object *body, *errors;
	tn_pipeline_status st;
	tn_pipeline_request pr;
	char err[768];
	int status;

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	errors = tn_admin_parse_pipeline_request(body, &pr);
	if (errors != NULL) {
		tn_resource_invalid(req, errors);
		goto done;
	}

	st = tn_pipeline_dispatch(
	    pr.pipeline, pr.ref, pr.inputs, &status, err, sizeof(err));
	if (st != TN_PIPELINE_OK) {
		tn_log(TN_LOG_ERROR, "request %s: pipeline %s: %s",
		    req->request_id, pr.pipeline, err);
		answer_failure(req, st, status, err);
		goto done;
	}
	answer_dispatched(req, &pr);

done:
	json_object_put(body);
}
