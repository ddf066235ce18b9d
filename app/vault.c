/* Secret settings from a Vault KV v2 secret, put into the environment. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "outbound.h"
#include "settings.h"
#include "vault.h"

#define VAULT_PATH_DEFAULT "secret/data/tenantry"
#define VAULT_PATH_MAX     256

const char *const tn_vault_names[] = {
    "TENANTRY_ADMIN_TOKEN",
    "TENANTRY_DATABASE_URL",
    "TENANTRY_DNS_POWERDNS_KEY",
    "TENANTRY_DNS_AWS_ACCESS_KEY_ID",
    "TENANTRY_DNS_AWS_SECRET_ACCESS_KEY",
    "TENANTRY_DNS_AWS_SESSION_TOKEN",
    "TENANTRY_DNS_CLOUDFLARE_TOKEN",
    "TENANTRY_GITHUB_TOKEN",
    NULL,
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
is_secret_name(const char *name)
{
	size_t i;

	for (i = 0; tn_vault_names[i] != NULL; i++) {
		if (strcmp(name, tn_vault_names[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Set already, directly or as NAME_FILE: Vault must not override it. */
static int
is_set(const char *name)
{
	char file[128];

	snprintf(file, sizeof(file), "%s_FILE", name);
	return env(name) != NULL || env(file) != NULL;
}

/* A KV path: letters, digits and /._- without "..", no leading slash. */
static int
is_path(const char *path)
{
	static const char allowed[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/._-";

	return *path != '\0' && *path != '/' &&
	    strlen(path) <= VAULT_PATH_MAX &&
	    strspn(path, allowed) == strlen(path) && strstr(path, "..") == NULL;
}

/* The members of data.data in a KV v2 answer, or NULL. */
static json_object *
secret_members(json_object *doc)
{
	json_object *outer, *inner;

	if (!json_object_object_get_ex(doc, "data", &outer) ||
	    !json_object_object_get_ex(outer, "data", &inner) ||
	    !json_object_is_type(inner, json_type_object)) {
		return NULL;
	}
	return inner;
}

/*
 * Checks every member that names a secret setting, then sets those that
 * are not set yet. Returns -1 with err when a member is not a string.
 */
static int
apply_members(json_object *members, const char *path, char *err, size_t errlen)
{
	char names[512] = "";
	int loaded = 0;

	json_object_object_foreach(members, name, value)
	{
		if (is_secret_name(name) &&
		    !json_object_is_type(value, json_type_string)) {
			snprintf(err, errlen,
			    "vault secret %s: member %s is not a string", path,
			    name);
			return -1;
		}
	}

	json_object_object_foreach(members, key, member)
	{
		if (!is_secret_name(key) || is_set(key)) {
			continue;
		}
		if (setenv(key, json_object_get_string(member), 1) != 0) {
			snprintf(err, errlen, "cannot set %s from vault", key);
			return -1;
		}
		loaded++;
		strncat(names, " ", sizeof(names) - strlen(names) - 1);
		strncat(names, key, sizeof(names) - strlen(names) - 1);
	}

	tn_log(TN_LOG_NOTICE, "vault: %d setting(s) from %s:%s", loaded, path,
	    loaded ? names : " none");
	return 0;
}

/* Describes Vault's refusal: its status and first error, redacted. */
static void
refusal(const tn_outbound_response *rs, const char *path, const char *token,
    char *err, size_t errlen)
{
	char message[TN_OUTBOUND_MESSAGE_MAX + 1];
	const char *secrets[1];

	secrets[0] = token;
	tn_outbound_error_message(message, sizeof(message), rs, "errors");
	tn_outbound_redact(message, sizeof(message), secrets, 1);
	if (rs->status == 404) {
		/* Vault says nothing more than {"errors": []} here */
		snprintf(message, sizeof(message), "no secret at this path");
	}
	snprintf(err, errlen, "vault refused to read %s (HTTP %ld): %s", path,
	    rs->status, message);
}

/* Reads the secret at path and applies it; see tn_vault_load. */
static int
read_secret(const char *base, const char *path, const char *token, char *err,
    size_t errlen)
{
	tn_outbound_request rq = {0};
	tn_outbound_response rs = {0};
	json_object *doc = NULL, *members;
	char url[1024];
	int result = -1;

	snprintf(url, sizeof(url), "%s/v1/%s", base, path);
	rq.method = "GET";
	rq.url = url;
	if (tn_outbound_header(&rq.headers, "X-Vault-Token", token) != 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	if (tn_outbound_send(&rq, &rs, err, errlen) != TN_OUTBOUND_OK) {
		goto done;
	}
	if (rs.status != 200) {
		refusal(&rs, path, token, err, errlen);
		goto done;
	}

	doc = json_tokener_parse(rs.body.data);
	members = secret_members(doc);
	if (members == NULL) {
		snprintf(err, errlen,
		    "vault secret %s is not a KV version 2 secret (no data.data object)",
		    path);
		goto done;
	}
	result = apply_members(members, path, err, errlen);

done:
	json_object_put(doc);
	if (rs.body.data != NULL) {
		explicit_bzero(rs.body.data, rs.body.len);
	}
	tn_outbound_response_free(&rs);
	tn_outbound_headers_free(rq.headers);
	return result;
}

int
tn_vault_load(char *err, size_t errlen)
{
	const char *addr = env("TENANTRY_VAULT_ADDR");
	const char *path = env("TENANTRY_VAULT_PATH");
	char base[512];
	char *token;
	int failed, result;

	if (addr == NULL) {
		return 0;
	}
	if (path == NULL) {
		path = VAULT_PATH_DEFAULT;
	}
	if (tn_outbound_base_url(base, sizeof(base), addr) != 0) {
		snprintf(err, errlen,
		    "TENANTRY_VAULT_ADDR must be an http:// or https:// URL");
		return -1;
	}
	if (!is_path(path)) {
		snprintf(err, errlen,
		    "TENANTRY_VAULT_PATH must be a path such as secret/data/tenantry, got \"%.100s\"",
		    path);
		return -1;
	}

	token = tn_settings_secret("TENANTRY_VAULT_TOKEN", &failed);
	if (failed || token == NULL) {
		snprintf(err, errlen, "%s",
		    failed
		        ? "cannot read TENANTRY_VAULT_TOKEN_FILE (or it is empty)"
		        : "TENANTRY_VAULT_ADDR is set but TENANTRY_VAULT_TOKEN (or TENANTRY_VAULT_TOKEN_FILE) is not");
		return -1;
	}

	result = read_secret(base, path, token, err, errlen);
	explicit_bzero(token, strlen(token));
	free(token);
	return result;
}
