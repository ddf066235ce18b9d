/* What the libFuzzer targets share: checks that abort, input splitting. */
#ifndef TN_FUZZ_H
#define TN_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: says which and aborts, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, what)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz: %s:%d: %s (%s)\n", __FILE__,    \
			    __LINE__, (what), #cond);                          \
			abort();                                               \
		}                                                              \
	} while (0)

/* Copies the input into a NUL-terminated string; the caller frees it. */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL) {
		abort();
	}
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Splits a copy of the input at NUL bytes into up to max strings (the
 * last one takes the rest; missing ones are ""). Returns the copy, which
 * the caller frees after the last use of fields.
 */
static inline char *
fuzz_fields(const uint8_t *data, size_t size, const char **fields, int max)
{
	char *copy = fuzz_string(data, size), *p = copy, *end = copy + size;
	int i;

	for (i = 0; i < max; i++) {
		fields[i] = p < end ? p : "";
		if (i < max - 1 && p < end) {
			p += strlen(p) + 1;
		}
	}
	return copy;
}

#endif
