/* A growable byte buffer for building responses and SQL parameters. */
#ifndef TN_BUF_H
#define TN_BUF_H

#include <stddef.h>

typedef struct {
	char *data; /* always NUL-terminated once anything is appended */
	size_t len;
	size_t cap;
} tn_buf;

void tn_buf_append(tn_buf *b, const char *s, size_t len);
void tn_buf_puts(tn_buf *b, const char *s);
void tn_buf_printf(tn_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tn_buf_reset(tn_buf *b);
void tn_buf_free(tn_buf *b);

#endif
