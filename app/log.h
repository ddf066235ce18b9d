/* Log lines on stderr: one line per event, untrusted bytes escaped. */
#ifndef TN_LOG_H
#define TN_LOG_H

#include <stddef.h>

typedef enum {
	TN_LOG_ALERT,  /* something that cannot happen did */
	TN_LOG_ERROR,  /* a peer or the database misbehaved */
	TN_LOG_NOTICE, /* worker lifecycle, start-up, shutdown */
	TN_LOG_INFO    /* one line per request */
} tn_log_level;

/* Drops lines less severe than level (default: everything is kept). */
void tn_log_threshold(tn_log_level level);

void tn_log(tn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs a line of text built and escaped by the caller, as tn_log does. */
void tn_log_text(tn_log_level level, const char *text, size_t len);

/*
 * Copies src into dst (of size dstlen, always terminated), replacing bytes
 * outside printable ASCII, quotes and backslashes with \xNN so that a
 * client cannot forge log lines. Returns dst.
 */
char *tn_log_escape(char *dst, size_t dstlen, const char *src);

#endif
