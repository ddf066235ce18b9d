/* Tenant users: passwords, session and API tokens, same-origin checks. */
#ifndef TN_AUTH_H
#define TN_AUTH_H

#include <stddef.h>

#include <sodium.h>

#include "http.h"

/* "tn_" and 43 characters of base64url (32 random bytes). */
#define TN_TOKEN_LEN       46
#define TN_TOKEN_HASH_LEN  64
#define TN_SESSION_COOKIE  "tn_session"
#define TN_SESSION_SECONDS (14 * 24 * 3600)

/*
 * Hashes a password with argon2id into out. Returns 0, or -1 when memory
 * runs out.
 */
int tn_auth_hash_password(
    const char *password, char out[crypto_pwhash_STRBYTES]);

/*
 * Checks a password against a stored hash. With hash NULL (no such user)
 * a dummy hash is checked, so that the answer takes about as long.
 */
int tn_auth_password_ok(const char *hash, const char *password);

/* Makes a new random token and the hex hash that is stored of it. */
void tn_auth_new_token(
    char token[TN_TOKEN_LEN + 1], char hash[TN_TOKEN_HASH_LEN + 1]);

/*
 * Finds the session token in a Cookie header: the first tn_session
 * cookie decides. Returns 1 with a token-shaped value copied to token,
 * else 0.
 */
int tn_auth_cookie_token(const char *cookie, char token[TN_TOKEN_LEN + 1]);

/*
 * Finds the request's credentials (bearer token or session cookie) and,
 * inside the tenant's scoped transaction that is already begun, the user
 * they belong to. Answers 401 (or 403 for a cross-site cookie write) and
 * returns -1 when there is none.
 */
int tn_auth_user(tn_req *req);

/*
 * Refuses (403, returns -1) a state-changing request that a browser sent
 * from another site. Requests without browser headers pass unless
 * strict is set (cookie authentication).
 */
int tn_auth_same_origin(tn_req *req, int strict);

/*
 * Before a new session or token is stored: locks the user's row, so that
 * it waits for a password change, a disabling or a deletion in flight,
 * and checks that the user is still enabled, still has password_hash
 * (when given) and that token_id (when given, the credentials in use)
 * still exists. Returns 1 when all holds, 0 when not, -1 after answering
 * a database failure. Password changes and disabling update the row
 * first and end the user's tokens in a later statement, so no token
 * made meanwhile escapes them.
 */
int tn_auth_lock_user(tn_req *req, const char *user_id,
    const char *password_hash, const char *token_id);

/* Adds the Set-Cookie header for a session token (NULL clears it). */
void tn_auth_set_cookie(tn_req *req, const char *token);

#endif
