/* A growable byte buffer; allocation failure is fatal (out of memory). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

static void
buf_reserve(tn_buf *b, size_t extra)
{
	size_t cap;
	char *data;

	if (b->len + extra + 1 <= b->cap) {
		return;
	}

	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1) {
		cap *= 2;
	}

	data = realloc(b->data, cap);
	if (data == NULL) {
		tn_log(
		    TN_LOG_ALERT, "out of memory growing a buffer to %zu", cap);
		abort();
	}

	b->data = data;
	b->cap = cap;
}

void
tn_buf_append(tn_buf *b, const char *s, size_t len)
{
	buf_reserve(b, len);
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
tn_buf_puts(tn_buf *b, const char *s)
{
	tn_buf_append(b, s, strlen(s));
}

void
tn_buf_printf(tn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);

	if (n < 0) {
		return;
	}

	buf_reserve(b, (size_t)n);

	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);

	b->len += (size_t)n;
}

void
tn_buf_reset(tn_buf *b)
{
	b->len = 0;
	if (b->data != NULL) {
		b->data[0] = '\0';
	}
}

void
tn_buf_free(tn_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
