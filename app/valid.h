/*
 * Validation of JSON request bodies: each helper checks one member and
 * adds an {field, detail} entry to the errors array when it is wrong.
 */
#ifndef TN_VALID_H
#define TN_VALID_H

#include <stddef.h>

#include <json-c/json.h>

/* What the helpers report for a member. */
typedef enum {
	TN_FIELD_ABSENT = 0, /* not in the body */
	TN_FIELD_NULL,       /* present and null (when null is allowed) */
	TN_FIELD_SET,        /* present and valid */
	TN_FIELD_INVALID     /* present and wrong: an error was added */
} tn_field;

typedef struct {
	json_object *errors; /* NULL until the first error */
} tn_valid;

void tn_valid_error(tn_valid *v, const char *field, const char *detail);

/*
 * A string of min..max characters (code points), without control
 * characters when single_line. *out points into obj. Absent and, with
 * nullable, null are not errors unless required.
 */
tn_field tn_valid_string(tn_valid *v, json_object *obj, const char *field,
    int required, int nullable, size_t min, size_t max, int single_line,
    const char **out);

/* An integer in [min, max]; with nullable, null is allowed. */
tn_field tn_valid_int(tn_valid *v, json_object *obj, const char *field,
    int required, int nullable, long long min, long long max, long long *out);

tn_field tn_valid_bool(
    tn_valid *v, json_object *obj, const char *field, int required, int *out);

/* One of the NULL-terminated choices. */
tn_field tn_valid_enum(tn_valid *v, json_object *obj, const char *field,
    int required, const char *const *choices, const char **out);

/* A calendar date YYYY-MM-DD that exists; with nullable, null too. */
tn_field tn_valid_date(tn_valid *v, json_object *obj, const char *field,
    int required, int nullable, const char **out);

/* A plausible email address of at most 254 characters. */
tn_field tn_valid_email(tn_valid *v, json_object *obj, const char *field,
    int required, const char **out);

/* Checks a calendar date string on its own. */
int tn_valid_is_date(const char *s);

/* Counts the code points of a UTF-8 string (json-c has validated it). */
size_t tn_valid_utf8_len(const char *s);

#endif
