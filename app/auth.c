/* Tenant users: passwords, session and API tokens, same-origin checks. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "handlers.h"
#include "log.h"

static const char token_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
tn_auth_hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
	return crypto_pwhash_str(out, password, strlen(password),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

int
tn_auth_password_ok(const char *hash, const char *password)
{
	static char dummy[crypto_pwhash_STRBYTES];
	int ok;

	if (hash == NULL) {
		/* made once per worker, with the same cost as a real one */
		if (dummy[0] == '\0' &&
		    tn_auth_hash_password("not a password", dummy) != 0) {
			return 0;
		}
		if (crypto_pwhash_str_verify(
		        dummy, password, strlen(password)) == 0) {
			tn_log(TN_LOG_ALERT, "the dummy password matched");
		}
		return 0;
	}

	ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	return ok;
}

static void
hash_token(const char *token, char hash[TN_TOKEN_HASH_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(hash, TN_TOKEN_HASH_LEN + 1, digest, sizeof(digest));
}

void
tn_auth_new_token(
    char token[TN_TOKEN_LEN + 1], char hash[TN_TOKEN_HASH_LEN + 1])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	memcpy(token, "tn_", 3);
	sodium_bin2base64(token + 3, TN_TOKEN_LEN + 1 - 3, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	hash_token(token, hash);
}

/* A token as this service makes them: "tn_" and 43 base64url chars. */
static int
token_shaped(const char *s, size_t len)
{
	return len == TN_TOKEN_LEN && strncmp(s, "tn_", 3) == 0 &&
	    strspn(s + 3, token_chars) == TN_TOKEN_LEN - 3;
}

int
tn_auth_cookie_token(const char *cookie, char token[TN_TOKEN_LEN + 1])
{
	static const char name[] = TN_SESSION_COOKIE "=";
	const char *p = cookie;
	size_t len;

	while (*p != '\0') {
		p += strspn(p, " ;");
		if (strncmp(p, name, sizeof(name) - 1) == 0) {
			p += sizeof(name) - 1;
			len = strcspn(p, ";");
			if (token_shaped(p, len)) {
				memcpy(token, p, len);
				token[len] = '\0';
				return 1;
			}
			return 0;
		}
		p += strcspn(p, ";");
	}
	return 0;
}

/*
 * Takes the credentials from Authorization or, failing that, from the
 * session cookie. Returns 1 with the token, 0 when there are none.
 */
static int
credentials(tn_req *req, char token[TN_TOKEN_LEN + 1])
{
	static const char bearer[] = "Bearer ";
	const char *given = req->authorization;

	if (strncasecmp(given, bearer, sizeof(bearer) - 1) == 0) {
		given += sizeof(bearer) - 1;
		if (!token_shaped(given, strlen(given))) {
			return 0;
		}
		strcpy(token, given);
		req->via_cookie = 0;
		return 1;
	}
	if (*given != '\0') {
		return 0;
	}

	req->via_cookie = 1;
	return tn_auth_cookie_token(req->cookie, token);
}

int
tn_auth_same_origin(tn_req *req, int strict)
{
	char expected[320];
	int n;

	if (strcmp(req->fetch_site, "same-origin") == 0 ||
	    strcmp(req->fetch_site, "none") == 0) {
		return 0;
	}

	if (*req->origin != '\0') {
		/* a host too long for expected must not match its start */
		n = snprintf(expected, sizeof(expected), "%s://%s",
		    req->https ? "https" : "http", req->request_host);
		if (n >= 0 && (size_t)n < sizeof(expected) &&
		    strcasecmp(req->origin, expected) == 0) {
			return 0;
		}
	} else if (*req->fetch_site == '\0' && !strict) {
		return 0;
	}

	tn_http_problem(req, 403, "cross-site-request",
	    "this request must come from a page of the same site (Origin or Sec-Fetch-Site)",
	    NULL);
	return -1;
}

int
tn_auth_user(tn_req *req)
{
	/* the last column: an API token last marked used a minute ago */
	static const char sql[] =
	    "SELECT u.id, u.role, t.id, t.kind = 'api'"
	    " AND (t.last_used_at IS NULL"
	    "  OR t.last_used_at < now() - interval '1 minute')"
	    " FROM auth_tokens t JOIN users u ON u.id = t.user_id"
	    " WHERE t.token_hash = $1"
	    " AND (t.expires_at IS NULL OR t.expires_at > now())"
	    " AND NOT u.disabled";
	char token[TN_TOKEN_LEN + 1], hash[TN_TOKEN_HASH_LEN + 1];
	const char *params[1] = {hash};
	int method_safe, found, stale = 0;
	tn_db_status st;
	PGresult *r;

	if (!credentials(req, token)) {
		tn_http_problem(req, 401, "unauthenticated",
		    "sign in, or send a valid token as Authorization: Bearer",
		    NULL);
		tn_http_header(req, "WWW-Authenticate", "Bearer");
		return -1;
	}
	hash_token(token, hash);
	sodium_memzero(token, sizeof(token));

	method_safe =
	    strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	if (req->via_cookie && !method_safe &&
	    tn_auth_same_origin(req, 1) != 0) {
		return -1;
	}

	r = tn_db_exec(req->db, sql, 1, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}

	found = PQntuples(r) == 1;
	if (found) {
		snprintf(req->user_id, sizeof(req->user_id), "%s",
		    PQgetvalue(r, 0, 0));
		snprintf(req->user_role, sizeof(req->user_role), "%s",
		    PQgetvalue(r, 0, 1));
		snprintf(req->token_id, sizeof(req->token_id), "%s",
		    PQgetvalue(r, 0, 2));
		stale = PQgetvalue(r, 0, 3)[0] == 't';
	}
	PQclear(r);

	/*
	 * Marking the token used travels with the handler's first statement
	 * (no round trip of its own) and commits with the request's work.
	 */
	if (stale) {
		params[0] = req->token_id;
		tn_db_queue(req->db,
		    "UPDATE auth_tokens SET last_used_at = now() WHERE id = $1",
		    1, params);
	}

	if (!found) {
		tn_http_problem(req, 401, "unauthenticated",
		    "the session or token is not valid (expired, signed out or revoked)",
		    NULL);
		tn_http_header(req, "WWW-Authenticate", "Bearer");
		return -1;
	}
	return 0;
}

void
tn_auth_set_cookie(tn_req *req, const char *token)
{
	char value[256];

	snprintf(value, sizeof(value),
	    "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s",
	    TN_SESSION_COOKIE, token ? token : "",
	    token ? TN_SESSION_SECONDS : 0, req->https ? "; Secure" : "");
	tn_http_header(req, "Set-Cookie", value);
}

int
tn_auth_lock_user(tn_req *req, const char *user_id, const char *password_hash,
    const char *token_id)
{
	const char *params[2] = {user_id, password_hash};
	tn_db_status st;
	PGresult *r;
	int ok;

	r = tn_db_exec(req->db,
	    "SELECT 1 FROM users WHERE id = $1 AND NOT disabled"
	    " AND ($2::text IS NULL OR password_hash = $2) FOR UPDATE",
	    2, params, 0, &st);
	if (r == NULL) {
		tn_answer_db_failure(req, st);
		return -1;
	}
	ok = PQntuples(r) == 1;
	PQclear(r);

	/* a statement of its own: it sees what committed while we waited */
	if (ok && token_id != NULL) {
		params[0] = token_id;
		r = tn_db_exec(req->db,
		    "SELECT 1 FROM auth_tokens WHERE id = $1", 1, params, 0,
		    &st);
		if (r == NULL) {
			tn_answer_db_failure(req, st);
			return -1;
		}
		ok = PQntuples(r) == 1;
		PQclear(r);
	}
	return ok;
}
