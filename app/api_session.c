/* Signing in and out, and the signed-in user's own account. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "handlers.h"
#include "resource.h"
#include "valid.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

/*
 * Reads the user's password hash; the answer is the same whether the
 * address is unknown or the user disabled. Returns 0 with the row (or
 * none) in *r, -1 after answering a database failure.
 */
static int
load_credentials(tn_req *req, const char *email, PGresult **r)
{
	const char *params[1] = {email};
	tn_db_status st;

	*r = NULL;
	st = tn_db_begin_scoped(req->db, req->tenant.schema, req->tenant.role);
	if (st == TN_DB_OK) {
		*r = tn_db_exec(req->db,
		    "SELECT id, password_hash FROM users"
		    " WHERE lower(email) = lower($1) AND NOT disabled",
		    1, params, 1, &st);
	}
	if (*r == NULL) {
		tn_db_rollback(req->db);
		tn_answer_db_failure(req, st);
		return -1;
	}
	return 0;
}

/* Stores a new session for user and answers it with its cookie. */
static void
open_session(tn_req *req, const char *user_id, const char *password_hash)
{
	char token[TN_TOKEN_LEN + 1], hash[TN_TOKEN_HASH_LEN + 1];
	char seconds[16];
	const char *params[3] = {user_id, hash, seconds};
	tn_db_status st;
	PGresult *r = NULL;
	int locked;

	tn_auth_new_token(token, hash);
	snprintf(seconds, sizeof(seconds), "%d", TN_SESSION_SECONDS);

	st = tn_db_begin_scoped(req->db, req->tenant.schema, req->tenant.role);
	if (st == TN_DB_OK) {
		/* the password checked may have changed, the user gone */
		locked = tn_auth_lock_user(req, user_id, password_hash, NULL);
		if (locked < 0) {
			tn_db_rollback(req->db);
			return;
		}
		if (locked == 0) {
			tn_db_rollback(req->db);
			tn_http_problem(req, 401, "invalid-credentials",
			    "the email address or the password is wrong", NULL);
			return;
		}
		r = tn_db_exec(req->db,
		    "WITH s AS (INSERT INTO auth_tokens"
		    " (user_id, kind, token_hash, expires_at)"
		    " VALUES ($1, 'session', $2,"
		    "  now() + make_interval(secs => $3::int))"
		    " RETURNING expires_at)"
		    " SELECT json_build_object('user', user_doc(u),"
		    " 'expires_at', api_time(s.expires_at))"
		    " FROM users u, s WHERE u.id = $1",
		    3, params, 1, &st);
	}
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		tn_db_rollback(req->db);
		tn_answer_db_failure(req, st == TN_DB_OK ? TN_DB_ERROR : st);
		return;
	}

	tn_resource_answer(req, 201, r, 0);
	tn_auth_set_cookie(req, token);
	sodium_memzero(token, sizeof(token));
	PQclear(r);
}

/* POST /api/session */
void
tn_api_session_create(tn_req *req)
{
	char user_id[24] = "", hash[crypto_pwhash_STRBYTES] = "";
	const char *email, *password;
	tn_valid v = {0};
	json_object *body;
	PGresult *r;

	if (tn_auth_same_origin(req, 0) != 0) {
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "email", 1, 0, 1, 254, 1, &email);
	tn_valid_string(
	    &v, body, "password", 1, 0, 1, PASSWORD_MAX, 0, &password);
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	if (load_credentials(req, email, &r) != 0) {
		json_object_put(body);
		return;
	}
	if (PQntuples(r) == 1) {
		snprintf(user_id, sizeof(user_id), "%s", PQgetvalue(r, 0, 0));
		snprintf(hash, sizeof(hash), "%s", PQgetvalue(r, 0, 1));
	}

	/* an unknown address costs a dummy check: same time, same answer */
	if (!tn_auth_password_ok(hash[0] ? hash : NULL, password)) {
		PQclear(r);
		json_object_put(body);
		tn_http_problem(req, 401, "invalid-credentials",
		    "the email address or the password is wrong", NULL);
		return;
	}
	PQclear(r);
	json_object_put(body);

	open_session(req, user_id, hash);
}

/* DELETE /api/session: the token in use stops working at once. */
void
tn_api_session_delete(tn_req *req)
{
	const char *params[1] = {req->token_id};
	tn_db_status st;
	PGresult *r;

	r = tn_db_exec(req->db, "DELETE FROM auth_tokens WHERE id = $1", 1,
	    params, 1, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	PQclear(r);

	tn_resource_no_content(req);
	tn_auth_set_cookie(req, NULL);
}

/* GET /api/me */
void
tn_api_me_get(tn_req *req)
{
	const char *params[1] = {req->user_id};

	tn_resource_read(req, 200,
	    "SELECT user_doc(u) FROM users u WHERE id = $1", 1, params, 0,
	    "user");
}

/*
 * Checks the current password before a new one is set. Returns 0 when
 * it is right; else adds an error for current_password.
 */
static int
current_password_ok(
    tn_req *req, tn_valid *v, json_object *body, tn_db_status *st)
{
	const char *params[1] = {req->user_id};
	const char *current;
	PGresult *r;
	int ok;

	if (tn_valid_string(v, body, "current_password", 1, 0, 1, PASSWORD_MAX,
	        0, &current) != TN_FIELD_SET) {
		return -1;
	}

	r = tn_db_exec(req->db, "SELECT password_hash FROM users WHERE id = $1",
	    1, params, 0, st);
	if (r == NULL) {
		return -1;
	}
	ok = PQntuples(r) == 1 &&
	    tn_auth_password_ok(PQgetvalue(r, 0, 0), current);
	PQclear(r);

	if (!ok) {
		tn_valid_error(
		    v, "current_password", "is not the current password");
		return -1;
	}
	return 0;
}

/* PATCH /api/me: own name and password. */
void
tn_api_me_update(tn_req *req)
{
	char hash[crypto_pwhash_STRBYTES] = "";
	const char *name, *password, *params[4];
	tn_db_status st = TN_DB_OK;
	tn_valid v = {0};
	json_object *body;
	PGresult *r;

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "name", 0, 0, 0, 200, 1, &name);
	if (tn_valid_string(&v, body, "password", 0, 0, PASSWORD_MIN,
	        PASSWORD_MAX, 0, &password) == TN_FIELD_SET &&
	    current_password_ok(req, &v, body, &st) == 0 &&
	    tn_auth_hash_password(password, hash) != 0) {
		st = TN_DB_ERROR;
	}
	if (st != TN_DB_OK || v.errors != NULL) {
		if (st != TN_DB_OK) {
			tn_answer_db_failure(req, st);
			json_object_put(v.errors);
		} else {
			tn_resource_invalid(req, v.errors);
		}
		json_object_put(body);
		return;
	}

	params[0] = req->user_id;
	params[1] = name;
	params[2] = hash[0] ? hash : NULL;
	params[3] = req->token_id;

	/*
	 * The row is updated (and locked) first; the user's other sessions
	 * and tokens end in a statement of their own, which also sees those
	 * that were made while the update waited for the row.
	 */
	r = tn_db_exec(req->db,
	    "UPDATE users SET display_name = coalesce($2, display_name),"
	    " password_hash = coalesce($3, password_hash),"
	    " version = version + 1, updated_at = now()"
	    " WHERE id = $1 RETURNING user_doc(users)",
	    3, params, hash[0] ? 0 : 1, &st);
	if (r != NULL && hash[0]) {
		const char *mine[2] = {req->user_id, req->token_id};
		PGresult *ended = tn_db_exec(req->db,
		    "DELETE FROM auth_tokens WHERE user_id = $1 AND id <> $2",
		    2, mine, 1, &st);

		if (ended == NULL) {
			PQclear(r);
			r = NULL;
		}
		PQclear(ended);
	}
	sodium_memzero(hash, sizeof(hash));
	json_object_put(body);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	tn_resource_answer(req, 200, r, 0);
	PQclear(r);
}
