/* One worker's loop over libfcgi; signals only between requests. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <fcgiapp.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "scoreboard.h"
#include "worker.h"

static volatile sig_atomic_t stop_requested;

static void
on_stop(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* Only interrupts a read from a peer that stopped sending. */
static void
on_alarm(int signo)
{
	(void)signo;
}

/*
 * Stop signals are blocked while a request is served and delivered only
 * while the worker waits for a connection, so a request in flight always
 * finishes. Returns the mask to wait with.
 */
static sigset_t
setup_signals(void)
{
	struct sigaction sa;
	sigset_t block, wait_mask;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_SETMASK, &block, NULL);

	sigemptyset(&wait_mask);
	return wait_mask;
}

/*
 * Waits until there is a request to read; 0 when there is, -1 to stop.
 * A connection nginx keeps open (FCGI_KEEP_CONN) is kept_fd: its next
 * request comes on it, so the worker waits on it alone until nginx
 * closes it. Otherwise it waits on the listening socket, where
 * EPOLLEXCLUSIVE wakes one waiting worker per connection, not all.
 */
static int
wait_for_connection(
    int epoll_fd, int kept_fd, const sigset_t *wait_mask, pid_t master)
{
	struct epoll_event ev;
	struct pollfd kept;
	struct timespec second = {1, 0};
	int n;

	for (;;) {
		if (stop_requested || getppid() != master) {
			return -1;
		}

		if (kept_fd >= 0) {
			kept.fd = kept_fd;
			kept.events = POLLIN;
			n = ppoll(&kept, 1, &second, wait_mask);
		} else {
			n = epoll_pwait(epoll_fd, &ev, 1, 1000, wait_mask);
		}
		if (n > 0) {
			return 0;
		}
		if (n < 0 && errno != EINTR) {
			tn_log(TN_LOG_ALERT, "waiting for a request: %s",
			    strerror(errno));
			return -1;
		}
	}
}

static int
watch_listener(int listen_fd)
{
	struct epoll_event ev;
	int fd;

	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0) {
		return -1;
	}

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (epoll_ctl(fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Serves one request. A GET that failed only because the connection had
 * gone stale (the database restarted) is run once more on a new one.
 */
static void
serve(FCGX_Request *fcgi, const tn_settings *s, tn_db *db)
{
	int was_connected, retried = 0;
	tn_req req;

	tn_http_begin(&req, fcgi, s, db);
	tn_scoreboard_begin(
	    req.method, req.path, req.tenant_key, req.started_ms);

	for (;;) {
		was_connected = db->conn != NULL;
		db->wait_ms = 0;
		db->round_trips = 0;
		tn_router_dispatch(&req);

		if (retried || !was_connected || db->conn != NULL ||
		    req.status != 503 || strcmp(req.method, "GET") != 0) {
			break;
		}

		retried = 1;
		req.status = 0;
		req.has_tenant = 0;
		tn_buf_reset(&req.headers);
		tn_buf_reset(&req.out);
		db->last_attempt_ms = -1000000;
	}

	tn_scoreboard_state(TN_WORKER_FINISHING);
	tn_http_finish(&req);
	tn_scoreboard_done(req.route, req.status, req.duration_ms, db->wait_ms,
	    db->round_trips);
}

void
tn_worker_run(int listen_fd, int slot, const tn_settings *s)
{
	FCGX_Request fcgi;
	sigset_t wait_mask;
	int epoll_fd;
	pid_t master;
	long served = 0;
	int accepted;
	tn_db db;

	master = getppid();
	tn_scoreboard_attach(slot);
#ifdef HAVE_SYS_PRCTL_H
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	wait_mask = setup_signals();

	epoll_fd = watch_listener(listen_fd);
	if (epoll_fd < 0) {
		tn_log(TN_LOG_ALERT, "cannot watch the listening socket: %s",
		    strerror(errno));
		_exit(1);
	}

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fcgi, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		tn_log(TN_LOG_ALERT, "cannot initialise libfcgi");
		_exit(1);
	}

	tn_db_init(&db, s->database_url, s->statement_timeout);
	tn_db_limit_schemas(&db, s->max_tenants_per_connection);
	tn_db_ensure(&db);
	tn_scoreboard_state(TN_WORKER_IDLE);

	while (s->max_requests == 0 || served < s->max_requests) {
		if (wait_for_connection(
		        epoll_fd, fcgi.ipcFd, &wait_mask, master) != 0) {
			break;
		}

		/*
		 * Another worker may have taken it: the socket is non-blocking.
		 * The alarm bounds the wait for the request's records.
		 */
		tn_scoreboard_state(TN_WORKER_READING);
		alarm(TN_HTTP_READ_TIMEOUT);
		accepted = FCGX_Accept_r(&fcgi);
		alarm(0);
		if (accepted < 0) {
			tn_scoreboard_state(TN_WORKER_IDLE);
			continue;
		}

		tn_scoreboard_accepted();
		serve(&fcgi, s, &db);
		FCGX_Finish_r(&fcgi);
		tn_scoreboard_state(TN_WORKER_IDLE);
		served++;

		if (tn_db_wants_recycle(&db)) {
			tn_db_recycle(&db);
		}
	}

	tn_db_free(&db);
	FCGX_Free(&fcgi, 1);
	exit(0);
}
