/* The tenant's users, managed by its owners. */
#include "config.h"

#include <string.h>

#include "auth.h"
#include "handlers.h"
#include "resource.h"
#include "valid.h"

static const char *const roles[] = {"owner", "member", NULL};

/* GET /api/users */
void
tn_api_users_list(tn_req *req)
{
	tn_resource_read(req, 200,
	    "SELECT json_build_object('users',"
	    " coalesce(json_agg(user_doc(u) ORDER BY u.id), '[]'))"
	    " FROM users u",
	    0, NULL, 0, "user");
}

/* POST /api/users: an owner invites someone with an initial password. */
void
tn_api_users_create(tn_req *req)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *email, *name, *password, *role = "member";
	const char *params[4];
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	PGresult *r;

	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_email(&v, body, "email", 1, &email);
	tn_valid_string(&v, body, "name", 1, 0, 0, 200, 1, &name);
	tn_valid_string(&v, body, "password", 1, 0, 8, 1024, 0, &password);
	if (tn_valid_enum(&v, body, "role", 0, roles, &role) != TN_FIELD_SET) {
		role = role ? role : "member";
	}
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	if (tn_auth_hash_password(password, hash) != 0) {
		json_object_put(body);
		tn_http_problem(req, 503, "overloaded",
		    "no memory to hash the password", NULL);
		return;
	}
	params[0] = email;
	params[1] = name;
	params[2] = hash;
	params[3] = role;

	r = tn_db_exec(req->db,
	    "INSERT INTO users (email, display_name, password_hash, role)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
	    " RETURNING user_doc(users)",
	    4, params, 1, &st);
	sodium_memzero(hash, sizeof(hash));
	json_object_put(body);

	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		tn_http_problem(req, 409, "email-taken",
		    "a user with this email address exists already", NULL);
		return;
	}
	tn_resource_answer(req, 201, r, 0);
	PQclear(r);
}

/*
 * Would the change leave the tenant without an active owner? Locks the
 * owners' rows so that two owners cannot demote each other at once.
 * Returns 1 when it would, 0 when not, -1 on a database failure.
 */
static int
removes_last_owner(tn_req *req, const char *id, tn_db_status *st)
{
	const char *params[1] = {id};
	PGresult *r;
	int last;

	r = tn_db_exec(req->db,
	    "SELECT count(*) FILTER (WHERE id <> $1) = 0"
	    "  AND bool_or(id = $1)"
	    " FROM (SELECT id FROM users WHERE role = 'owner'"
	    "  AND NOT disabled ORDER BY id FOR UPDATE) o",
	    1, params, 0, st);
	if (r == NULL) {
		return -1;
	}
	last = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return last;
}

static void
answer_last_owner(tn_req *req)
{
	tn_http_problem(req, 409, "last-owner",
	    "the tenant must keep at least one active owner", NULL);
}

/* PATCH /api/users/{id}: name, role, disabled. */
void
tn_api_users_update(tn_req *req)
{
	const char *name, *role, *params[4];
	int disabled = 0, last;
	tn_field disabled_f, role_f;
	tn_valid v = {0};
	json_object *body;
	tn_db_status st;
	PGresult *r;
	char id[24];

	if (tn_resource_id(req->path_arg, id) != 0) {
		tn_http_problem(req, 404, "not-found", "no such user", NULL);
		return;
	}
	body = tn_http_json_body(req);
	if (body == NULL) {
		return;
	}

	tn_valid_string(&v, body, "name", 0, 0, 0, 200, 1, &name);
	role_f = tn_valid_enum(&v, body, "role", 0, roles, &role);
	disabled_f = tn_valid_bool(&v, body, "disabled", 0, &disabled);
	if (v.errors != NULL) {
		tn_resource_invalid(req, v.errors);
		json_object_put(body);
		return;
	}

	if ((role_f == TN_FIELD_SET && strcmp(role, "member") == 0) ||
	    (disabled_f == TN_FIELD_SET && disabled)) {
		last = removes_last_owner(req, id, &st);
		if (last < 0) {
			tn_answer_db_failure(req, st);
		} else if (last > 0) {
			answer_last_owner(req);
		}
		if (last != 0) {
			json_object_put(body);
			return;
		}
	}

	params[0] = id;
	params[1] = name;
	params[2] = role;
	params[3] = disabled_f == TN_FIELD_SET ? (disabled ? "t" : "f") : NULL;

	/*
	 * The row first; disabling then ends the user's sessions and tokens
	 * in a statement of its own, which also sees those made meanwhile.
	 */
	r = tn_db_exec(req->db,
	    "UPDATE users SET display_name = coalesce($2, display_name),"
	    " role = coalesce($3, role),"
	    " disabled = coalesce($4::boolean, disabled),"
	    " version = version + 1, updated_at = now()"
	    " WHERE id = $1 RETURNING user_doc(users), disabled",
	    4, params, 0, &st);
	if (r != NULL && PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't') {
		PGresult *ended = tn_db_exec(req->db,
		    "DELETE FROM auth_tokens WHERE user_id = $1", 1, params, 0,
		    &st);

		if (ended == NULL) {
			PQclear(r);
			r = NULL;
		}
		PQclear(ended);
	}
	if (r != NULL && (st = tn_db_commit(req->db)) != TN_DB_OK) {
		PQclear(r);
		r = NULL;
	}
	json_object_put(body);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		tn_http_problem(req, 404, "not-found", "no such user", NULL);
		return;
	}
	tn_resource_answer(req, 200, r, 0);
	PQclear(r);
}

/* DELETE /api/users/{id} */
void
tn_api_users_delete(tn_req *req)
{
	const char *params[1];
	tn_db_status st;
	char id[24];
	int last;

	if (tn_resource_id(req->path_arg, id) != 0) {
		tn_http_problem(req, 404, "not-found", "no such user", NULL);
		return;
	}
	params[0] = id;

	last = removes_last_owner(req, id, &st);
	if (last < 0) {
		tn_answer_db_failure(req, st);
		return;
	}
	if (last > 0) {
		answer_last_owner(req);
		return;
	}

	/* tokens go with the user (ON DELETE CASCADE) */
	tn_resource_delete(
	    req, "DELETE FROM users WHERE id = $1", 1, params, "user");
}
