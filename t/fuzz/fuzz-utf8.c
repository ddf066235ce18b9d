/*
 * Fuzzes the strict UTF-8 check of request bodies against a decoder
 * written from the table of well-formed byte sequences (Unicode 15,
 * table 3-7), and the code point count the field checks rely on.
 */
#include "config.h"

#include "fuzz.h"
#include "http.h"
#include "valid.h"

/* One row of table 3-7: a first byte range and the ranges after it. */
typedef struct {
	unsigned char lead_lo, lead_hi;
	int trailing;
	unsigned char second_lo, second_hi;
} utf8_row;

static const utf8_row rows[] = {
    {0x00, 0x7f, 0, 0, 0},
    {0xc2, 0xdf, 1, 0x80, 0xbf},
    {0xe0, 0xe0, 2, 0xa0, 0xbf},
    {0xe1, 0xec, 2, 0x80, 0xbf},
    {0xed, 0xed, 2, 0x80, 0x9f},
    {0xee, 0xef, 2, 0x80, 0xbf},
    {0xf0, 0xf0, 3, 0x90, 0xbf},
    {0xf1, 0xf3, 3, 0x80, 0xbf},
    {0xf4, 0xf4, 3, 0x80, 0x8f},
};

/* Returns the number of code points, or -1 when s is not well-formed. */
static long
reference_count(const unsigned char *s, size_t len)
{
	size_t i = 0, r, k;
	long count = 0;

	while (i < len) {
		for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			if (s[i] >= rows[r].lead_lo &&
			    s[i] <= rows[r].lead_hi) {
				break;
			}
		}
		if (r == sizeof(rows) / sizeof(rows[0]) ||
		    i + (size_t)rows[r].trailing >= len) {
			return -1;
		}
		for (k = 1; k <= (size_t)rows[r].trailing; k++) {
			unsigned char lo = k == 1 ? rows[r].second_lo : 0x80;
			unsigned char hi = k == 1 ? rows[r].second_hi : 0xbf;

			if (s[i + k] < lo || s[i + k] > hi) {
				return -1;
			}
		}
		i += 1 + (size_t)rows[r].trailing;
		count++;
	}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);
	long expected;
	char *text;
	int valid;

	/* a copy of exactly size bytes: ASan sees any read past the end */
	memcpy(copy, data, size);
	valid = tn_http_utf8_valid(copy, size);
	expected = reference_count(copy, size);
	FUZZ_CHECK(valid == (expected >= 0),
	    "the strict check agrees with the table of well-formed UTF-8");

	if (valid && memchr(data, '\0', size) == NULL) {
		text = fuzz_string(data, size);
		FUZZ_CHECK((long)tn_valid_utf8_len(text) == expected,
		    "fields count code points as a decoder does");
		free(text);
	}
	free(copy);
	return 0;
}
