/*
 * Fuzzes what authentication reads from headers: the session cookie as a
 * plain split of the Cookie header finds it, the cookie the service sets
 * is the one it reads back, and the same-origin check lets through only
 * what its rules name.
 */
#include "config.h"

#include <strings.h>

#include "auth.h"
#include "fuzz.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The reference: the first pair named tn_session, if token-shaped. */
static int
reference_cookie(const char *cookie, char *token)
{
	char *copy = strdup(cookie), *rest = copy, *pair, *value;
	int found = 0;

	while ((pair = strsep(&rest, ";")) != NULL) {
		pair += strspn(pair, " ");
		if (strncmp(pair, "tn_session=", 11) != 0) {
			continue;
		}
		value = pair + 11;
		found = strlen(value) == TN_TOKEN_LEN &&
		    strncmp(value, "tn_", 3) == 0 &&
		    strspn(value + 3, alphabet) == TN_TOKEN_LEN - 3;
		if (found) {
			strcpy(token, value);
		}
		break;
	}
	free(copy);
	return found;
}

static void
check_cookie(const char *cookie)
{
	char *token = malloc(TN_TOKEN_LEN + 1), expected[TN_TOKEN_LEN + 1];
	int found;

	found = tn_auth_cookie_token(cookie, token);
	FUZZ_CHECK(found == reference_cookie(cookie, expected),
	    "the session cookie is found as the reference finds it");
	if (found) {
		FUZZ_CHECK(strcmp(token, expected) == 0,
		    "the session token is the cookie's value");
	}
	free(token);
}

/* The Set-Cookie the service sends is read back as the same token. */
static void
check_set_cookie(const uint8_t *data, size_t size, int https)
{
	char token[TN_TOKEN_LEN + 1], back[TN_TOKEN_LEN + 1], *value;
	tn_req req;
	size_t i;

	memcpy(token, "tn_", 3);
	for (i = 0; i < TN_TOKEN_LEN - 3; i++) {
		token[3 + i] = alphabet[i < size ? data[i] % 64 : 0];
	}
	token[TN_TOKEN_LEN] = '\0';

	memset(&req, 0, sizeof(req));
	req.https = https;
	tn_auth_set_cookie(&req, token);
	value = strstr(req.headers.data, "Set-Cookie: ");
	FUZZ_CHECK(value != NULL, "a session sets a cookie");
	value += strlen("Set-Cookie: ");
	value[strcspn(value, ";")] = '\0';
	FUZZ_CHECK(
	    tn_auth_cookie_token(value, back) == 1 && strcmp(back, token) == 0,
	    "the session cookie set is the one read");
	FUZZ_CHECK(
	    (strstr(value + strlen(value) + 1, "; Secure") != NULL) == https,
	    "the cookie is Secure exactly over HTTPS");
	tn_buf_free(&req.headers);
}

/* The reference: same-origin and none pass, else Origin decides. */
static int
reference_same_origin(const tn_req *req, int strict)
{
	char *expected;
	int same;

	if (strcmp(req->fetch_site, "same-origin") == 0 ||
	    strcmp(req->fetch_site, "none") == 0) {
		return 1;
	}
	if (*req->origin == '\0') {
		return *req->fetch_site == '\0' && !strict;
	}
	if (asprintf(&expected, "%s://%s", req->https ? "https" : "http",
	        req->request_host) < 0) {
		abort();
	}
	same = strcasecmp(req->origin, expected) == 0;
	free(expected);
	return same;
}

static void
check_same_origin(const char *origin, const char *fetch_site, const char *host,
    int https, int strict)
{
	tn_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.request_id = "fuzz";
	req.origin = origin;
	req.fetch_site = fetch_site;
	req.request_host = host;
	req.https = https;

	rc = tn_auth_same_origin(&req, strict);
	FUZZ_CHECK((rc == 0) == reference_same_origin(&req, strict),
	    "a request passes the same-origin check exactly by its rules");
	FUZZ_CHECK(rc == 0 ? req.status == 0 : req.status == 403,
	    "a cross-site request is a 403");
	tn_buf_free(&req.headers);
	tn_buf_free(&req.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[4];
	char *copy;

	if (size < 1) {
		return 0;
	}

	/* fields: Cookie, Origin, Sec-Fetch-Site, Host */
	copy = fuzz_fields(data + 1, size - 1, fields, 4);
	check_cookie(fields[0]);
	check_set_cookie(data + 1, size - 1, data[0] & 1);
	check_same_origin(
	    fields[1], fields[2], fields[3], data[0] & 1, data[0] >> 1 & 1);
	free(copy);
	return 0;
}
