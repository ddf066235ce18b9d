/* Workflow dispatches to GitHub Actions through libcurl. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbound.h"
#include "pipeline.h"
#include "settings.h"

#define GITHUB_API_URL  "https://api.github.com"
#define GITHUB_VERSION  "2022-11-28"
#define REPOSITORY_MAX  200
#define REF_MAX         255
#define PIPELINE_URLMAX 1024

const char *const tn_pipeline_names[] = {"ui", "api", "db", "deploy", NULL};

/* The settings of one dispatch; the token is wiped when done. */
typedef struct {
	char repository[REPOSITORY_MAX + 1];
	char api_url[512];
	char *token;
} github_config;

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* owner/name, each of letters, digits, '.', '_' and '-'. */
static int
is_repository(const char *text)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                              "abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t owner = strspn(text, allowed), name;

	if (owner == 0 || text[owner] != '/') {
		return 0;
	}
	name = strspn(text + owner + 1, allowed);
	return name > 0 && text[owner + 1 + name] == '\0' &&
	    owner + 1 + name <= REPOSITORY_MAX;
}

int
tn_pipeline_configured(void)
{
	return env("TENANTRY_GITHUB_REPOSITORY") != NULL &&
	    (env("TENANTRY_GITHUB_TOKEN") != NULL ||
	        env("TENANTRY_GITHUB_TOKEN_FILE") != NULL);
}

const char *
tn_pipeline_ref_problem(const char *ref)
{
	size_t len = strlen(ref), i;

	if (len == 0 || len > REF_MAX) {
		return "must be 1 to 255 characters";
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)ref[i];

		if (c <= 0x20 || c == 0x7f || strchr("~^:?*[\\", c) != NULL) {
			return "must not contain spaces, control characters or any of ~^:?*[\\";
		}
	}
	if (strstr(ref, "..") != NULL || strstr(ref, "@{") != NULL ||
	    strstr(ref, "//") != NULL || ref[0] == '/' || ref[0] == '.' ||
	    ref[len - 1] == '/' || ref[len - 1] == '.') {
		return "is not a valid git ref name";
	}
	return NULL;
}

static int
is_pipeline(const char *name)
{
	size_t i;

	for (i = 0; tn_pipeline_names[i] != NULL; i++) {
		if (strcmp(name, tn_pipeline_names[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

static void
config_free(github_config *g)
{
	if (g->token != NULL) {
		explicit_bzero(g->token, strlen(g->token));
		free(g->token);
		g->token = NULL;
	}
}

/* Reads the settings; NOT_CONFIGURED with a message naming the fault. */
static tn_pipeline_status
config_load(github_config *g, char *err, size_t errlen)
{
	const char *repository = env("TENANTRY_GITHUB_REPOSITORY");
	const char *url = env("TENANTRY_GITHUB_API_URL");
	int failed;

	memset(g, 0, sizeof(*g));

	g->token = tn_settings_secret("TENANTRY_GITHUB_TOKEN", &failed);
	if (failed) {
		snprintf(err, errlen,
		    "pipelines not configured: cannot read TENANTRY_GITHUB_TOKEN_FILE (or it is empty)");
		return TN_PIPELINE_NOT_CONFIGURED;
	}
	if (repository == NULL || g->token == NULL) {
		snprintf(err, errlen,
		    "pipelines not configured: TENANTRY_GITHUB_REPOSITORY and TENANTRY_GITHUB_TOKEN are required");
		return TN_PIPELINE_NOT_CONFIGURED;
	}
	if (!is_repository(repository)) {
		snprintf(err, errlen,
		    "pipelines not configured: TENANTRY_GITHUB_REPOSITORY must be owner/name, got \"%.100s\"",
		    repository);
		return TN_PIPELINE_NOT_CONFIGURED;
	}
	snprintf(g->repository, sizeof(g->repository), "%s", repository);

	if (tn_outbound_base_url(g->api_url, sizeof(g->api_url),
	        url ? url : GITHUB_API_URL) != 0) {
		snprintf(err, errlen,
		    "pipelines not configured: TENANTRY_GITHUB_API_URL must be an http:// or https:// URL");
		return TN_PIPELINE_NOT_CONFIGURED;
	}
	return TN_PIPELINE_OK;
}

/* {"ref": ref, "inputs": {...}}; the caller puts it. */
static json_object *
dispatch_body(const char *ref, json_object *inputs)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "ref", json_object_new_string(ref));
	json_object_object_add(body, "inputs",
	    inputs != NULL ? json_object_get(inputs)
	                   : json_object_new_object());
	return body;
}

static int
dispatch_headers(struct curl_slist **headers, const char *token)
{
	char bearer[1024];
	int failed;

	snprintf(bearer, sizeof(bearer), "Bearer %s", token);
	failed = tn_outbound_header(
	             headers, "Accept", "application/vnd.github+json") ||
	    tn_outbound_header(headers, "Authorization", bearer) ||
	    tn_outbound_header(
	        headers, "X-GitHub-Api-Version", GITHUB_VERSION) ||
	    tn_outbound_header(headers, "User-Agent", "tenantry") ||
	    tn_outbound_header(headers, "Content-Type", "application/json");
	explicit_bzero(bearer, sizeof(bearer));
	return failed ? -1 : 0;
}

static tn_pipeline_status
status_of(tn_outbound_status os)
{
	switch (os) {
	case TN_OUTBOUND_OK:
		return TN_PIPELINE_OK;
	case TN_OUTBOUND_TIMEOUT:
		return TN_PIPELINE_TIMEOUT;
	default:
		return TN_PIPELINE_UNREACHABLE;
	}
}

/* Describes GitHub's refusal in err: its status and message. */
static void
refusal(const github_config *g, const char *pipeline,
    const tn_outbound_response *rs, char *err, size_t errlen)
{
	char message[TN_OUTBOUND_MESSAGE_MAX + 1];
	const char *secrets[1];

	secrets[0] = g->token;
	tn_outbound_error_message(message, sizeof(message), rs, "message");
	tn_outbound_redact(message, sizeof(message), secrets, 1);
	snprintf(err, errlen,
	    "GitHub refused the dispatch of %s.yml in %s (HTTP %ld): %s",
	    pipeline, g->repository, rs->status, message);
}

tn_pipeline_status
tn_pipeline_dispatch(const char *pipeline, const char *ref, json_object *inputs,
    int *status, char *err, size_t errlen)
{
	tn_outbound_request rq = {0};
	tn_outbound_response rs = {0};
	tn_pipeline_status st;
	json_object *body = NULL;
	github_config g;
	char url[PIPELINE_URLMAX];

	*status = 0;
	if (!is_pipeline(pipeline) || tn_pipeline_ref_problem(ref) != NULL) {
		snprintf(err, errlen, "no pipeline \"%.40s\" or a bad ref",
		    pipeline);
		return TN_PIPELINE_INVALID;
	}

	st = config_load(&g, err, errlen);
	if (st != TN_PIPELINE_OK) {
		goto done;
	}

	snprintf(url, sizeof(url),
	    "%s/repos/%s/actions/workflows/%s.yml/dispatches", g.api_url,
	    g.repository, pipeline);
	body = dispatch_body(ref, inputs);
	rq.method = "POST";
	rq.url = url;
	rq.body = json_object_to_json_string_length(
	    body, JSON_C_TO_STRING_PLAIN, &rq.body_len);
	if (dispatch_headers(&rq.headers, g.token) != 0) {
		snprintf(err, errlen, "out of memory");
		st = TN_PIPELINE_UNREACHABLE;
		goto done;
	}

	st = status_of(tn_outbound_send(&rq, &rs, err, errlen));
	if (st != TN_PIPELINE_OK) {
		goto done;
	}
	*status = (int)rs.status;
	if (rs.status != 204) {
		refusal(&g, pipeline, &rs, err, errlen);
		st = TN_PIPELINE_REFUSED;
		goto done;
	}

	tn_log(TN_LOG_NOTICE, "pipeline %s dispatched in %s on %s", pipeline,
	    g.repository, ref);

done:
	tn_outbound_response_free(&rs);
	tn_outbound_headers_free(rq.headers);
	json_object_put(body);
	config_free(&g);
	return st;
}
