/* Log lines on stderr: time, level, message; one write(2) per line. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {"alert", "error", "notice", "info"};

static tn_log_level threshold = TN_LOG_INFO;

void
tn_log_threshold(tn_log_level level)
{
	threshold = level;
}

void
tn_log(tn_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval now;
	struct tm tm;
	size_t len;
	int n;
	va_list ap;

	if (level > threshold) {
		return;
	}

	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);

	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %s [%d] ",
	    (long)now.tv_usec / 1000, level_names[level], (int)getpid());
	len += (size_t)n;

	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);

	if (n < 0) {
		n = 0;
	}
	len += (size_t)n;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';

	/* A short line written at once is not interleaved with others. */
	if (write(STDERR_FILENO, line, len) < 0) {
		return;
	}
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
