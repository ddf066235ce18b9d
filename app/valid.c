/* Validation of JSON request bodies, field by field. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valid.h"

void
tn_valid_error(tn_valid *v, const char *field, const char *detail)
{
	json_object *e;

	if (v->errors == NULL) {
		v->errors = json_object_new_array();
	}

	e = json_object_new_object();
	json_object_object_add(e, "field", json_object_new_string(field));
	json_object_object_add(e, "detail", json_object_new_string(detail));
	json_object_array_add(v->errors, e);
}

/* Finds the member; reports absent, null, or present in *value. */
static tn_field
member(tn_valid *v, json_object *obj, const char *field, int required,
    int nullable, json_object **value)
{
	const char *key = strrchr(field, '.');

	key = key ? key + 1 : field;
	*value = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, key, value)) {
		if (required) {
			tn_valid_error(v, field, "is required");
			return TN_FIELD_INVALID;
		}
		return TN_FIELD_ABSENT;
	}
	if (*value == NULL || json_object_is_type(*value, json_type_null)) {
		if (!nullable || required) {
			tn_valid_error(v, field, "must not be null");
			return TN_FIELD_INVALID;
		}
		return TN_FIELD_NULL;
	}
	return TN_FIELD_SET;
}

size_t
tn_valid_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80) {
			n++;
		}
	}
	return n;
}

static int
has_control_chars(const char *s, int single_line)
{
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == 0x7f ||
		    (c < 0x20 &&
		        (single_line ||
		            (c != '\n' && c != '\t' && c != '\r')))) {
			return 1;
		}
	}
	return 0;
}

tn_field
tn_valid_string(tn_valid *v, json_object *obj, const char *field, int required,
    int nullable, size_t min, size_t max, int single_line, const char **out)
{
	json_object *value;
	tn_field f;
	char detail[96];
	size_t len;

	*out = NULL;
	f = member(v, obj, field, required, nullable, &value);
	if (f != TN_FIELD_SET) {
		return f;
	}
	if (!json_object_is_type(value, json_type_string)) {
		tn_valid_error(v, field, "must be a string");
		return TN_FIELD_INVALID;
	}

	*out = json_object_get_string(value);
	if (strlen(*out) != (size_t)json_object_get_string_len(value)) {
		tn_valid_error(v, field, "must not contain NUL characters");
		return TN_FIELD_INVALID;
	}
	len = tn_valid_utf8_len(*out);
	if (len < min || len > max) {
		if (min == 0) {
			snprintf(detail, sizeof(detail),
			    "must be at most %zu characters long", max);
		} else {
			snprintf(detail, sizeof(detail),
			    "must be %zu to %zu characters long", min, max);
		}
		tn_valid_error(v, field, detail);
		return TN_FIELD_INVALID;
	}
	if (has_control_chars(*out, single_line)) {
		tn_valid_error(v, field, "must not contain control characters");
		return TN_FIELD_INVALID;
	}
	if (min > 0 && strspn(*out, " \t\r\n") == strlen(*out)) {
		tn_valid_error(v, field, "must not be blank");
		return TN_FIELD_INVALID;
	}
	return TN_FIELD_SET;
}

tn_field
tn_valid_int(tn_valid *v, json_object *obj, const char *field, int required,
    int nullable, long long min, long long max, long long *out)
{
	json_object *value;
	char detail[96];
	tn_field f;
	long long n;

	*out = 0;
	f = member(v, obj, field, required, nullable, &value);
	if (f != TN_FIELD_SET) {
		return f;
	}

	errno = 0;
	n = (long long)json_object_get_int64(value);
	if (!json_object_is_type(value, json_type_int) || errno != 0 ||
	    n < min || n > max) {
		snprintf(detail, sizeof(detail),
		    "must be an integer from %lld to %lld", min, max);
		tn_valid_error(v, field, detail);
		return TN_FIELD_INVALID;
	}

	*out = n;
	return TN_FIELD_SET;
}

tn_field
tn_valid_bool(
    tn_valid *v, json_object *obj, const char *field, int required, int *out)
{
	json_object *value;
	tn_field f;

	*out = 0;
	f = member(v, obj, field, required, 0, &value);
	if (f != TN_FIELD_SET) {
		return f;
	}
	if (!json_object_is_type(value, json_type_boolean)) {
		tn_valid_error(v, field, "must be true or false");
		return TN_FIELD_INVALID;
	}

	*out = json_object_get_boolean(value);
	return TN_FIELD_SET;
}

tn_field
tn_valid_enum(tn_valid *v, json_object *obj, const char *field, int required,
    const char *const *choices, const char **out)
{
	char detail[160];
	const char *s;
	tn_field f;
	size_t i, used;

	f = tn_valid_string(v, obj, field, required, 0, 0, 64, 1, &s);
	*out = NULL;
	if (f != TN_FIELD_SET) {
		return f;
	}

	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(s, choices[i]) == 0) {
			*out = choices[i];
			return TN_FIELD_SET;
		}
	}

	used = (size_t)snprintf(detail, sizeof(detail), "must be one of");
	for (i = 0; choices[i] != NULL && used < sizeof(detail); i++) {
		used += (size_t)snprintf(detail + used, sizeof(detail) - used,
		    "%s %s", i ? "," : "", choices[i]);
	}
	tn_valid_error(v, field, detail);
	return TN_FIELD_INVALID;
}

int
tn_valid_is_date(const char *s)
{
	static const int days[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, leap, n = 0;

	if (strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    strspn(s, "0123456789-") != 10 || s[4] != '-' || s[7] != '-') {
		return 0;
	}
	if (y < 1 || m < 1 || m > 12 || d < 1) {
		return 0;
	}

	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1] + (m == 2 && leap);
}

tn_field
tn_valid_date(tn_valid *v, json_object *obj, const char *field, int required,
    int nullable, const char **out)
{
	tn_field f;

	f = tn_valid_string(v, obj, field, required, nullable, 0, 10, 1, out);
	if (f != TN_FIELD_SET) {
		return f;
	}
	if (!tn_valid_is_date(*out)) {
		tn_valid_error(
		    v, field, "must be a calendar date written YYYY-MM-DD");
		*out = NULL;
		return TN_FIELD_INVALID;
	}
	return TN_FIELD_SET;
}

tn_field
tn_valid_email(tn_valid *v, json_object *obj, const char *field, int required,
    const char **out)
{
	const char *at, *s;
	tn_field f;

	f = tn_valid_string(v, obj, field, required, 0, 3, 254, 1, out);
	if (f != TN_FIELD_SET) {
		return f;
	}

	s = *out;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL || at[1] == '.' ||
	    s[strlen(s) - 1] == '.' || strpbrk(s, " \t<>()[],;:\\\"") != NULL) {
		tn_valid_error(v, field, "must be an email address");
		*out = NULL;
		return TN_FIELD_INVALID;
	}
	return TN_FIELD_SET;
}
