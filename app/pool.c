/* Work over many tenants: forked children, one connection each. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "pool.h"

#define NO_ITEM ((size_t)-1)

typedef struct {
	pid_t pid;
	int to_child;   /* item numbers, one a line */
	int from_child; /* results, one JSON document a line */
	size_t item;    /* in hand, or NO_ITEM */
	tn_buf in;      /* what came from the child, not yet a whole line */
} child;

static int
write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A child's life: read an item, do it, write its result, until EOF. */
static void
child_main(const char *conninfo, int in, int out, tn_pool_job job, void *ctx)
{
	const char *text;
	json_object *result;
	char line[64];
	FILE *items;
	tn_db db;

	tn_db_init(&db, conninfo, 0);
	items = fdopen(in, "r");
	if (items == NULL) {
		_exit(1);
	}

	while (fgets(line, sizeof(line), items) != NULL) {
		result = job(&db, (size_t)strtoull(line, NULL, 10), ctx);
		text = json_object_to_json_string_ext(
		    result, JSON_C_TO_STRING_PLAIN);
		if (write_all(out, text, strlen(text)) != 0 ||
		    write_all(out, "\n", 1) != 0) {
			_exit(1);
		}
		json_object_put(result);
	}

	tn_db_close(&db);
	_exit(0);
}

/* Hands item to c; returns -1 when the child is gone. */
static int
hand_out(child *c, size_t item)
{
	char line[32];

	snprintf(line, sizeof(line), "%zu\n", item);
	if (write_all(c->to_child, line, strlen(line)) != 0) {
		return -1;
	}
	c->item = item;
	return 0;
}

/* Forks child number i; the earlier children's pipes are not its own. */
static int
spawn(child *kids, int i, const char *conninfo, tn_pool_job job, void *ctx)
{
	int down[2], up[2], k;

	if (pipe(down) != 0) {
		return -1;
	}
	if (pipe(up) != 0) {
		close(down[0]);
		close(down[1]);
		return -1;
	}

	kids[i].pid = fork();
	if (kids[i].pid < 0) {
		close(down[0]);
		close(down[1]);
		close(up[0]);
		close(up[1]);
		return -1;
	}
	if (kids[i].pid == 0) {
		for (k = 0; k < i; k++) {
			close(kids[k].to_child);
			close(kids[k].from_child);
		}
		close(down[1]);
		close(up[0]);
		child_main(conninfo, down[0], up[1], job, ctx);
	}

	close(down[0]);
	close(up[1]);
	kids[i].to_child = down[1];
	kids[i].from_child = up[0];
	kids[i].item = NO_ITEM;
	return 0;
}

/*
 * Reads what child c wrote and passes each whole line to done. Returns 1
 * when done asked to stop, -1 when the child is gone, else 0.
 */
static int
take_results(child *c, tn_pool_done done, void *ctx)
{
	char chunk[8192], *nl;
	json_object *result;
	size_t item, len;
	ssize_t n;
	int stop = 0;

	n = read(c->from_child, chunk, sizeof(chunk));
	if (n < 0 && errno == EINTR) {
		return 0;
	}
	if (n <= 0) {
		return -1;
	}
	tn_buf_append(&c->in, chunk, (size_t)n);

	while ((nl = memchr(c->in.data, '\n', c->in.len)) != NULL) {
		*nl = '\0';
		len = (size_t)(nl - c->in.data) + 1;
		result = json_tokener_parse(c->in.data);
		memmove(c->in.data, c->in.data + len, c->in.len - len + 1);
		c->in.len -= len;

		item = c->item;
		c->item = NO_ITEM;
		if (item != NO_ITEM && done(item, result, ctx) != 0) {
			stop = 1;
		} else if (item == NO_ITEM) {
			json_object_put(result);
		}
	}
	return stop;
}

/* Stops handing out to c and reports what it had in hand as lost. */
static void
lose(child *c, tn_pool_done done, void *ctx, int *stop)
{
	if (c->item != NO_ITEM && done(c->item, NULL, ctx) != 0) {
		*stop = 1;
	}
	c->item = NO_ITEM;
	close(c->to_child);
	close(c->from_child);
	c->to_child = c->from_child = -1;
}

tn_pool_status
tn_pool_run(const char *conninfo, int jobs, size_t count, tn_pool_job job,
    tn_pool_done done, void *ctx, char *err, size_t errlen)
{
	tn_pool_status result = TN_POOL_FAILED;
	struct sigaction ignore, before;
	struct pollfd *fds = NULL;
	child *kids = NULL;
	size_t next = 0;
	int n = 0, i, busy, stop = 0, rc;

	if (count == 0) {
		return TN_POOL_OK;
	}
	if ((size_t)jobs > count) {
		jobs = (int)count;
	}

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ignore, &before);
	fflush(NULL);

	kids = calloc((size_t)jobs, sizeof(*kids));
	fds = calloc((size_t)jobs, sizeof(*fds));
	if (kids == NULL || fds == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (n = 0; n < jobs; n++) {
		if (spawn(kids, n, conninfo, job, ctx) != 0) {
			snprintf(err, errlen, "cannot start a worker: %s",
			    strerror(errno));
			goto done;
		}
	}

	for (;;) {
		busy = 0;
		for (i = 0; i < n; i++) {
			child *c = &kids[i];

			while (c->to_child >= 0 && c->item == NO_ITEM &&
			    !stop && next < count) {
				if (hand_out(c, next) != 0) {
					lose(c, done, ctx, &stop);
					break;
				}
				next++;
			}
			fds[i].fd = c->item != NO_ITEM ? c->from_child : -1;
			fds[i].events = POLLIN;
			fds[i].revents = 0;
			busy += c->item != NO_ITEM;
		}
		if (busy == 0) {
			break;
		}

		if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto done;
		}
		for (i = 0; i < n; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0) {
				continue;
			}
			rc = take_results(&kids[i], done, ctx);
			if (rc < 0) {
				lose(&kids[i], done, ctx, &stop);
			} else if (rc > 0) {
				stop = 1;
			}
		}
	}
	result = TN_POOL_OK;

done:
	/* end of input: each child closes its connection and exits */
	for (i = 0; i < n; i++) {
		if (kids[i].to_child >= 0) {
			close(kids[i].to_child);
			close(kids[i].from_child);
		}
		waitpid(kids[i].pid, NULL, 0);
		tn_buf_free(&kids[i].in);
	}
	free(kids);
	free(fds);
	sigaction(SIGPIPE, &before, NULL);
	return result;
}
