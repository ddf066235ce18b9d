/* The audit log of admin actions: written by the router, read here. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "handlers.h"
#include "log.h"
#include "resource.h"

/*
 * A fingerprint of the bearer token presented: enough to tell tokens
 * apart in the log, never enough to use one.
 */
static void
token_fingerprint(const tn_req *req, char out[17])
{
	static const char prefix[] = "Bearer ";
	unsigned char digest[crypto_hash_sha256_BYTES];
	const char *token = req->authorization;

	if (strncasecmp(token, prefix, sizeof(prefix) - 1) != 0) {
		snprintf(out, 17, "none");
		return;
	}
	token += sizeof(prefix) - 1;

	crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(out, 17, digest, 8);
}

void
tn_admin_audit_record(tn_req *req)
{
	char fingerprint[17], status[8];
	const char *params[5];
	size_t path_size;
	tn_db_status st;
	char *path;
	PGresult *r;

	/*
	 * The path as the client sent it may hold bytes the database refuses
	 * (not UTF-8): escaped, a refused request is recorded all the same.
	 */
	path_size = 4 * strlen(req->path) + 1;
	path = malloc(path_size);
	if (path == NULL) {
		tn_log(TN_LOG_ERROR, "cannot write the audit log: no memory");
		return;
	}
	tn_log_escape(path, path_size, req->path);

	token_fingerprint(req, fingerprint);
	snprintf(status, sizeof(status), "%d", req->status);
	params[0] = fingerprint;
	params[1] = req->method;
	params[2] = path;
	params[3] = status;
	params[4] = req->request_id;

	r = tn_db_query(req->db,
	    "INSERT INTO public.admin_audit"
	    " (token, method, path, status, request_id)"
	    " VALUES ($1, $2, $3, $4, $5)",
	    5, params, &st);
	if (r == NULL) {
		tn_log(TN_LOG_ERROR, "cannot write the audit log: %s",
		    req->db->error);
	}
	PQclear(r);
	free(path);
}

/* GET /admin/audit?limit=&cursor=: newest first. */
void
tn_admin_audit_list(tn_req *req)
{
	const char *params[2];
	tn_db_status st;
	tn_page page;
	PGresult *r;

	/* newest first: the page starts below the cursor's id */
	if (tn_resource_page(req, 'a', "9223372036854775807", &page) != 0) {
		return;
	}
	params[0] = page.from;
	params[1] = page.fetch;

	r = tn_db_query(req->db,
	    "SELECT json_build_object('id', id, 'at', to_char(at AT TIME ZONE"
	    " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'token', token,"
	    " 'method', method, 'path', path, 'status', status,"
	    " 'request_id', request_id), id"
	    " FROM public.admin_audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
	    2, params, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	tn_resource_list(req, "entries", r, page.limit, 'a', 1);
	PQclear(r);
}
