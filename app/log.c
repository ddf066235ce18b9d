/* Log lines on stderr: time, level, message; one write(2) per line. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {"alert", "error", "notice", "info"};

static tn_log_level threshold = TN_LOG_INFO;

/* The second a line was last stamped with, its text, and our pid. */
static time_t stamp_second = -1;
static char stamp[32];
static pid_t own_pid;
static int fork_watched;

/* A forked child is another process: its lines carry its own pid. */
static void
forget_pid(void)
{
	own_pid = 0;
}

void
tn_log_threshold(tn_log_level level)
{
	threshold = level;
}

/* Writes n in decimal, at least width digits, at p; returns the end. */
static char *
put_number(char *p, unsigned long n, int width)
{
	char digits[24];
	int len = 0;

	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0 || len < width);
	while (len > 0) {
		*p++ = digits[--len];
	}
	return p;
}

/*
 * Writes a line's start into line: time in UTC to the millisecond,
 * level, pid. The time down to the second is formatted once a second.
 * Returns its length (under 80 bytes).
 */
static size_t
line_start(char *line, tn_log_level level)
{
	struct timeval now;
	struct tm tm;
	size_t len;
	char *p;

	if (!fork_watched) {
		pthread_atfork(NULL, NULL, forget_pid);
		fork_watched = 1;
	}
	if (own_pid == 0) {
		own_pid = getpid();
	}

	gettimeofday(&now, NULL);
	if (now.tv_sec != stamp_second) {
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		stamp_second = now.tv_sec;
	}

	len = strlen(stamp);
	memcpy(line, stamp, len);
	p = line + len;
	*p++ = '.';
	p = put_number(p, (unsigned long)now.tv_usec / 1000, 3);
	*p++ = 'Z';
	*p++ = ' ';
	len = strlen(level_names[level]);
	memcpy(p, level_names[level], len);
	p += len;
	*p++ = ' ';
	*p++ = '[';
	p = put_number(p, (unsigned long)own_pid, 1);
	*p++ = ']';
	*p++ = ' ';
	return (size_t)(p - line);
}

/* A short line written at once is not interleaved with others. */
static void
write_line(char *line, size_t len, size_t size)
{
	if (len > size - 1) {
		len = size - 1;
	}
	line[len++] = '\n';

	if (write(STDERR_FILENO, line, len) < 0) {
		return;
	}
}

void
tn_log(tn_log_level level, const char *fmt, ...)
{
	char line[2048];
	size_t len;
	int n;
	va_list ap;

	if (level > threshold) {
		return;
	}

	len = line_start(line, level);

	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);

	if (n < 0) {
		n = 0;
	}
	len += (size_t)n;
	write_line(line, len, sizeof(line));
}

void
tn_log_text(tn_log_level level, const char *text, size_t len)
{
	char line[2048];
	size_t start;

	if (level > threshold) {
		return;
	}

	start = line_start(line, level);
	if (len > sizeof(line) - start - 1) {
		len = sizeof(line) - start - 1;
	}
	memcpy(line + start, text, len);
	write_line(line, start + len, sizeof(line));
}

char *
tn_log_escape(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	unsigned char c;

	if (dstlen == 0) {
		return dst;
	}
	if (src == NULL) {
		src = "-";
	}

	for (; *src != '\0'; src++) {
		c = (unsigned char)*src;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			if (i + 1 >= dstlen) {
				break;
			}
			dst[i++] = (char)c;
			continue;
		}

		if (i + 4 >= dstlen) {
			break;
		}
		dst[i++] = '\\';
		dst[i++] = 'x';
		dst[i++] = hex[c >> 4];
		dst[i++] = hex[c & 0xf];
	}

	dst[i] = '\0';
	return dst;
}
