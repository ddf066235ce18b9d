/* Log escaping and the byte buffer behind every response. */
#include "config.h"

#include "buf.h"
#include "log.h"
#include "tap.h"

static void
test_escape(void)
{
	char out[64];

	is_str(tn_log_escape(out, sizeof(out), "/api/tenant"), "/api/tenant",
	    "plain text is kept");
	is_str(tn_log_escape(out, sizeof(out), "a\nb"), "a\\x0ab",
	    "a line break cannot start a forged log line");
	is_str(tn_log_escape(out, sizeof(out), "\"q\\"), "\\x22q\\x5c",
	    "quotes and backslashes are escaped");
	is_str(tn_log_escape(out, sizeof(out), "\xff"), "\\xff",
	    "bytes above ASCII are escaped");
	is_str(tn_log_escape(out, sizeof(out), NULL), "-", "NULL logs as -");
	is_str(tn_log_escape(out, 6, "abcdefgh"), "abcde",
	    "output is cut at the buffer size");
	is_str(tn_log_escape(out, 6, "ab\ncd"), "ab",
	    "an escape that does not fit is left out whole");
}

static void
test_buf(void)
{
	tn_buf b = {0};
	int i;

	tn_buf_puts(&b, "hello");
	tn_buf_printf(&b, " %d", 42);
	is_str(b.data, "hello 42", "append and printf");

	for (i = 0; i < 1000; i++) {
		tn_buf_puts(&b, "0123456789");
	}
	ok(b.len == 8 + 10000 && b.data[b.len] == '\0',
	    "grows and stays terminated (%zu)", b.len);

	tn_buf_reset(&b);
	ok(b.len == 0 && b.data[0] == '\0', "reset empties");
	tn_buf_free(&b);
	ok(b.data == NULL && b.cap == 0, "free releases");
}

int
main(void)
{
	test_escape();
	test_buf();
	return done_testing();
}
