/* The signed-in user's personal API tokens. */
#include "config.h"

#include <string.h>

#include "auth.h"
#include "handlers.h"
#include "resource.h"
#include "valid.h"

#define TOKEN_DOC                                                              \
	"json_build_object('id', t.id, 'name', t.name,"                        \
	" 'created_at', api_time(t.created_at),"                               \
	" 'expires_at', api_time(t.expires_at),"                               \
	" 'last_used_at', api_time(t.last_used_at))"

/* An ISO 8601 time with a zone: 2026-12-04T15:34:38(.123)(Z|+01:00). */
static int
is_timestamp(const char *s)
{
	char date[11];
	size_t n;

	if (strlen(s) < 20 || strlen(s) > 35) {
		return 0;
	}
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!tn_valid_is_date(date) || (s[10] != 'T' && s[10] != ' ')) {
		return 0;
	}

	s += 11;
	if (strspn(s, "0123456789:") != 8 || s[2] != ':' || s[5] != ':') {
		return 0;
	}
	s += 8;
	if (*s == '.') {
		n = strspn(s + 1, "0123456789");
		if (n == 0 || n > 6) {
			return 0;
		}
		s += 1 + n;
	}
	if (strcmp(s, "Z") == 0) {
		return 1;
	}
	return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && s[3] == ':' &&
	    strspn(s + 1, "0123456789:") == 5;
}

/* POST /api/tokens: the secret is in this answer and nowhere else. */
void
tn_api_tokens_create(tn_req *req)
{
	char token[TN_TOKEN_LEN + 1], hash[TN_TOKEN_HASH_LEN + 1];
	const char *name, *expires, *params[5];
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	PGresult *r;

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "name", 1, 0, 1, 100, 1, &name);
	if (tn_valid_string(&v, body, "expires_at", 0, 1, 0, 40, 1, &expires) ==
	        TN_FIELD_SET &&
	    !is_timestamp(expires)) {
		tn_valid_error(&v, "expires_at",
		    "must be a time like 2030-01-31T12:00:00Z, or null");
		expires = NULL;
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	switch (tn_auth_lock_user(req, req->user_id, NULL, req->token_id)) {
	case -1:
		json_object_put(body);
		return;
	case 0:
		json_object_put(body);
		tn_http_problem(req, 401, "unauthenticated",
		    "the session or token ended while the request ran", NULL);
		return;
	}

	tn_auth_new_token(token, hash);
	params[0] = req->user_id;
	params[1] = name;
	params[2] = hash;
	params[3] = expires;
	params[4] = token;

	r = tn_db_exec(req->db,
	    "INSERT INTO auth_tokens AS t"
	    " (user_id, kind, name, token_hash, expires_at)"
	    " SELECT $1, 'api', $2, $3, $4::timestamptz"
	    " WHERE $4::timestamptz IS NULL OR $4::timestamptz > now()"
	    " RETURNING jsonb_build_object('token', $5::text)"
	    " || " TOKEN_DOC "::jsonb",
	    5, params, 1, &st);
	sodium_memzero(token, sizeof(token));
	json_object_put(body);

	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		tn_valid_error(&v, "expires_at", "must be in the future");
		tn_resource_invalid(req, v.errors);
		return;
	}

	tn_resource_answer(req, 201, r, 0);
	PQclear(r);
}

/* GET /api/tokens */
void
tn_api_tokens_list(tn_req *req)
{
	const char *params[1] = {req->user_id};

	tn_resource_read(req, 200,
	    "SELECT json_build_object('tokens', coalesce(json_agg(" TOKEN_DOC
	    " ORDER BY t.id), '[]'))"
	    " FROM auth_tokens t WHERE t.user_id = $1 AND t.kind = 'api'",
	    1, params, 0, "token");
}

/* DELETE /api/tokens/{id}: only the user's own personal tokens. */
void
tn_api_tokens_delete(tn_req *req)
{
	const char *params[2];
	char id[24];

	if (tn_resource_id(req->path_arg, id) != 0) {
		tn_http_problem(req, 404, "not-found", "no such token", NULL);
		return;
	}
	params[0] = id;
	params[1] = req->user_id;
	tn_resource_delete(req,
	    "DELETE FROM auth_tokens WHERE id = $1 AND user_id = $2"
	    " AND kind = 'api'",
	    2, params, "token");
}
