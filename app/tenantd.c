/*
 * tenantd, the master: opens the FastCGI socket, forks the workers and
 * keeps their number (respawn with back-off, recycling, graceful stop,
 * rolling replacement on SIGHUP).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "db.h"
#include "dns.h"
#include "log.h"
#include "migrate.h"
#include "scoreboard.h"
#include "settings.h"
#include "tenant.h"
#include "vault.h"
#include "worker.h"

#define BACKLOG          1024
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   10000
#define HEALTHY_AFTER_MS 5000

typedef struct {
	pid_t pid;
	unsigned generation;
	int retiring;
	long long started_ms;
} worker_slot;

typedef struct {
	const tn_settings *settings;
	int listen_fd;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	worker_slot *slots;
	int nslots;
	unsigned generation;
	int crashes;
	long long spawn_after_ms;
	int stopping;
} master;

/* Opens a unix socket at path with mode 0660, replacing a stale one. */
static int
listen_unix(master *m, const char *path)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		tn_log(TN_LOG_ALERT, "socket path \"%s\" is too long", path);
		return -1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		tn_log(TN_LOG_ALERT, "socket: %s", strerror(errno));
		return -1;
	}

	/* a socket nobody answers on is left over from a crash */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		tn_log(TN_LOG_ALERT, "another server listens on \"%s\"", path);
		close(fd);
		return -1;
	}
	unlink(path);

	old_umask = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old_umask);
		tn_log(TN_LOG_ALERT, "bind \"%s\": %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old_umask);
	chmod(path, 0660);

	snprintf(m->unix_path, sizeof(m->unix_path), "%s", path);
	return fd;
}

/* Opens a TCP socket on host:port ([v6]:port for IPv6). */
static int
listen_tcp(const char *address)
{
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *colon, *port;
	size_t hostlen;
	int fd = -1, on = 1, rc;

	colon = strrchr(address, ':');
	if (colon == NULL || colon == address) {
		tn_log(TN_LOG_ALERT,
		    "TENANTD_LISTEN \"%s\" is neither unix:PATH nor HOST:PORT",
		    address);
		return -1;
	}
	port = colon + 1;
	hostlen = (size_t)(colon - address);
	if (address[0] == '[' && hostlen > 2 && address[hostlen - 1] == ']') {
		address++;
		hostlen -= 2;
	}
	if (hostlen >= sizeof(host)) {
		return -1;
	}
	memcpy(host, address, hostlen);
	host[hostlen] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		tn_log(TN_LOG_ALERT, "TENANTD_LISTEN \"%s\": %s", host,
		    gai_strerror(rc));
		return -1;
	}

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		tn_log(TN_LOG_ALERT, "bind %s:%s: %s", host, port,
		    strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		fd = -1;
	}

	freeaddrinfo(ai);
	return fd;
}

static int
open_listener(master *m)
{
	const char *listen_on = m->settings->listen;
	int fd, flags;

	if (strncmp(listen_on, "unix:", 5) == 0) {
		fd = listen_unix(m, listen_on + 5);
	} else if (listen_on[0] == '/') {
		fd = listen_unix(m, listen_on);
	} else {
		fd = listen_tcp(listen_on);
	}
	if (fd < 0) {
		return -1;
	}

	if (listen(fd, BACKLOG) != 0) {
		tn_log(TN_LOG_ALERT, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}

	/*
	 * Non-blocking: every worker polls, one accepts, the others find
	 * nothing and go back to waiting, where a stop signal reaches them.
	 */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);

	/* the workers inherit the socket; only they use it */
	flags = fcntl(fd, F_GETFD);
	fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
	return fd;
}

static int
count_alive(const master *m, int current_only)
{
	int i, n = 0;

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0 &&
		    (!current_only ||
		        (m->slots[i].generation == m->generation &&
		            !m->slots[i].retiring))) {
			n++;
		}
	}
	return n;
}

static void
spawn(master *m)
{
	worker_slot *slot = NULL;
	pid_t pid;
	int i;

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid == 0) {
			slot = &m->slots[i];
			break;
		}
	}
	if (slot == NULL) {
		return;
	}

	pid = fork();
	if (pid < 0) {
		tn_log(TN_LOG_ERROR, "fork: %s", strerror(errno));
		m->spawn_after_ms = tn_db_now_ms() + BACKOFF_FIRST_MS;
		return;
	}
	if (pid == 0) {
		tn_worker_run(
		    m->listen_fd, (int)(slot - m->slots), m->settings);
	}

	slot->pid = pid;
	slot->generation = m->generation;
	slot->retiring = 0;
	slot->started_ms = tn_db_now_ms();
	tn_scoreboard_spawned((int)(slot - m->slots), pid);
	tn_log(TN_LOG_NOTICE, "worker %d started", (int)pid);
}

/* Notes how a worker ended; crashes delay the next spawn. */
static void
reap(master *m)
{
	worker_slot *slot;
	long long now, lived;
	int status, i, delay;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		slot = NULL;
		for (i = 0; i < m->nslots; i++) {
			if (m->slots[i].pid == pid) {
				slot = &m->slots[i];
			}
		}
		if (slot == NULL) {
			continue;
		}

		now = tn_db_now_ms();
		lived = now - slot->started_ms;
		slot->pid = 0;

		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			tn_log(TN_LOG_NOTICE, "worker %d exited", (int)pid);
			tn_scoreboard_ended((int)(slot - m->slots),
			    m->stopping || slot->retiring ? TN_WORKER_STOPPED
			                                  : TN_WORKER_RECYCLED);
			m->crashes = 0;
			continue;
		}

		if (WIFSIGNALED(status)) {
			tn_log(TN_LOG_ERROR, "worker %d killed by signal %d",
			    (int)pid, WTERMSIG(status));
		} else {
			tn_log(TN_LOG_ERROR, "worker %d exited with status %d",
			    (int)pid, WEXITSTATUS(status));
		}
		if (m->stopping || slot->retiring) {
			tn_scoreboard_ended(
			    (int)(slot - m->slots), TN_WORKER_STOPPED);
			continue;
		}

		tn_scoreboard_ended((int)(slot - m->slots), TN_WORKER_CRASHED);
		m->crashes = lived > HEALTHY_AFTER_MS ? 1 : m->crashes + 1;
		delay = BACKOFF_FIRST_MS
		    << (m->crashes > 7 ? 7 : m->crashes - 1);
		if (delay > BACKOFF_MAX_MS) {
			delay = BACKOFF_MAX_MS;
		}
		if (m->crashes > 1) {
			tn_log(TN_LOG_ERROR,
			    "%d crashes in a row: next worker in %d ms",
			    m->crashes, delay);
		}
		m->spawn_after_ms = now + delay;
	}
}

/*
 * Keeps the number of current workers at the target. During a rolling
 * replacement one extra worker runs: a new one is started, then one old
 * one is told to finish, and so on.
 */
static void
keep_workers(master *m)
{
	int target = m->settings->workers;
	int i, retiring = 0;

	while (count_alive(m, 1) < target && count_alive(m, 0) <= target &&
	    tn_db_now_ms() >= m->spawn_after_ms) {
		int before = count_alive(m, 0);

		spawn(m);
		if (count_alive(m, 0) == before) {
			break;
		}
	}

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0 && m->slots[i].retiring) {
			retiring = 1;
		}
	}
	if (retiring || count_alive(m, 0) <= target) {
		return;
	}

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0 &&
		    m->slots[i].generation != m->generation) {
			m->slots[i].retiring = 1;
			kill(m->slots[i].pid, SIGTERM);
			return;
		}
	}
}

/* Stops every worker, waiting for requests in flight up to the timeout. */
static void
stop_all(master *m)
{
	long long deadline;
	struct timespec tick = {0, 50 * 1000 * 1000};
	int i;

	m->stopping = 1;
	tn_log(TN_LOG_NOTICE, "stopping %d workers", count_alive(m, 0));

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0) {
			kill(m->slots[i].pid, SIGTERM);
		}
	}

	deadline = tn_db_now_ms() + m->settings->shutdown_timeout * 1000LL;
	while (count_alive(m, 0) > 0 && tn_db_now_ms() < deadline) {
		nanosleep(&tick, NULL);
		reap(m);
	}

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0) {
			tn_log(TN_LOG_ERROR,
			    "worker %d still busy after %d s: killed",
			    (int)m->slots[i].pid,
			    m->settings->shutdown_timeout);
			kill(m->slots[i].pid, SIGKILL);
		}
	}
	while (count_alive(m, 0) > 0) {
		nanosleep(&tick, NULL);
		reap(m);
	}
}

static void
run(master *m)
{
	struct timespec tick = {0, 200 * 1000 * 1000};
	sigset_t signals;
	int signo;

	sigemptyset(&signals);
	sigaddset(&signals, SIGCHLD);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGQUIT);
	sigprocmask(SIG_BLOCK, &signals, NULL);

	for (;;) {
		keep_workers(m);
		tn_scoreboard_sample_queue();

		signo = sigtimedwait(&signals, NULL, &tick);
		switch (signo) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGHUP:
			m->generation++;
			tn_log(
			    TN_LOG_NOTICE, "replacing the workers one by one");
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			stop_all(m);
			return;
		default:
			reap(m);
			break;
		}
	}
}

/*
 * The schema version tenants need to be served: the newest file in the
 * tenant migrations this tenantd onboards with. Returns -1 when the folder
 * cannot be read.
 */
static int
require_schema(const tn_settings *s)
{
	tn_migration_set set;
	char dir[4096], err[512];

	snprintf(dir, sizeof(dir), "%s/tenant", s->db_dir);
	if (tn_migrate_load(dir, &set, err, sizeof(err)) != 0) {
		tn_log(TN_LOG_ALERT, "%s", err);
		return -1;
	}
	tn_tenant_require_schema(tn_migrate_newest(&set));
	tn_log(TN_LOG_NOTICE, "tenants need schema version %d",
	    tn_migrate_newest(&set));
	tn_migrate_free(&set);
	return 0;
}

int
main(void)
{
	tn_settings settings;
	master m;
	char err[256];
	struct sigaction sa;

	if (sodium_init() < 0) {
		tn_log(TN_LOG_ALERT, "cannot initialise libsodium");
		return 1;
	}
	/* secrets kept in Vault become settings like any other */
	if (tn_vault_load(err, sizeof(err)) != 0 ||
	    tn_settings_load(&settings, err, sizeof(err)) != 0 ||
	    tn_dns_check(err, sizeof(err)) != 0) {
		tn_log(TN_LOG_ALERT, "%s", err);
		return 1;
	}
	if (require_schema(&settings) != 0) {
		tn_settings_free(&settings);
		return 1;
	}
	if (settings.admin_token == NULL) {
		tn_log(TN_LOG_NOTICE,
		    "no TENANTRY_ADMIN_TOKEN: the admin API refuses every request");
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	memset(&m, 0, sizeof(m));
	m.settings = &settings;
	m.nslots = settings.workers + 1;
	m.slots = calloc((size_t)m.nslots, sizeof(worker_slot));
	if (m.slots == NULL) {
		tn_log(TN_LOG_ALERT, "out of memory");
		return 1;
	}

	m.listen_fd = open_listener(&m);
	if (m.listen_fd < 0) {
		return 1;
	}
	if (tn_scoreboard_create(m.nslots, settings.workers, m.listen_fd) !=
	    0) {
		tn_log(TN_LOG_ALERT, "cannot map the scoreboard: %s",
		    strerror(errno));
		return 1;
	}

	tn_log(TN_LOG_NOTICE, "tenantd %s listening on %s with %d workers",
	    PACKAGE_VERSION, settings.listen, settings.workers);
	run(&m);

	close(m.listen_fd);
	if (m.unix_path[0] != '\0') {
		unlink(m.unix_path);
	}
	tn_log(TN_LOG_NOTICE, "tenantd stopped");

	free(m.slots);
	tn_settings_free(&settings);
	return 0;
}
