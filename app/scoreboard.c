/*
 * The scoreboard in shared memory. Workers write their own slot with
 * plain stores and add to the pool's counters atomically: no lock and
 * no system call on the request path.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "db.h"
#include "scoreboard.h"

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ADD(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

/* A single writer adds without a locked instruction. */
#define BUMP(p, v) STORE((p), LOAD(p) + (v))

static tn_scoreboard *board;
static tn_sb_slot *own;
static int own_index = -1;
static int queue_fd = -1;
static int queue_family;

static const int codes[TN_SB_CODES] = {0, 200, 201, 202, 204, 304, 400, 401,
    403, 404, 405, 409, 410, 411, 412, 413, 414, 415, 422, 429, 500, 502, 503,
    504};

static const double bucket_le[TN_SB_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static const char *const state_names[TN_WORKER_STATES] = {
    "none", "starting", "idle", "reading", "working", "finishing"};

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
tn_scoreboard_create(int nslots, int workers, int listen_fd)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	size_t size;
	void *p;

	size = sizeof(tn_scoreboard) + (size_t)nslots * sizeof(tn_sb_slot);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		return -1;
	}

	board = p;
	board->started_ms = wall_ms();
	board->started = tn_db_clock_ms();
	board->nslots = nslots;
	board->workers = workers;

	queue_fd = listen_fd;
	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == 0) {
		queue_family = ss.ss_family;
	}
	tn_scoreboard_sample_queue();
	return 0;
}

const tn_scoreboard *
tn_scoreboard_get(void)
{
	return board;
}

void
tn_scoreboard_spawned(int slot, pid_t pid)
{
	if (board == NULL || slot < 0 || slot >= board->nslots) {
		return;
	}
	STORE(&board->slots[slot].started_ms, wall_ms());
	STORE(&board->slots[slot].pid, (int32_t)pid);
}

void
tn_scoreboard_ended(int slot, tn_worker_end how)
{
	if (board == NULL || slot < 0 || slot >= board->nslots) {
		return;
	}
	STORE(&board->slots[slot].pid, 0);
	STORE(&board->slots[slot].state, TN_WORKER_NONE);

	if (how == TN_WORKER_CRASHED) {
		ADD(&board->counters.restarts, 1);
	} else if (how == TN_WORKER_RECYCLED) {
		ADD(&board->counters.recycles, 1);
	}
}

/* The pending connections of a listening unix socket, from sock_diag. */
static int
queue_unix(uint32_t *len, uint32_t *limit)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	char answer[1024];
	struct nlmsghdr *nlh = (struct nlmsghdr *)answer;
	struct unix_diag_msg *diag;
	struct unix_diag_rqlen *rqlen;
	struct rtattr *attr;
	struct stat st;
	ssize_t n;
	int fd, rc = -1, attrlen;

	if (fstat(queue_fd, &st) != 0) {
		return -1;
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		return -1;
	}

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = AF_UNIX;
	msg.req.udiag_ino = (uint32_t)st.st_ino;
	msg.req.udiag_show = UDIAG_SHOW_RQLEN;
	msg.req.udiag_cookie[0] = ~0U;
	msg.req.udiag_cookie[1] = ~0U;

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl,
	        sizeof(nl)) < 0) {
		goto done;
	}
	n = recv(fd, answer, sizeof(answer), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(*diag)) ||
	    nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
		goto done;
	}

	diag = NLMSG_DATA(nlh);
	attr = (struct rtattr *)(diag + 1);
	attrlen = (int)nlh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*diag));
	for (; RTA_OK(attr, attrlen); attr = RTA_NEXT(attr, attrlen)) {
		if (attr->rta_type == UNIX_DIAG_RQLEN) {
			rqlen = RTA_DATA(attr);
			*len = rqlen->udiag_rqueue;
			*limit = rqlen->udiag_wqueue;
			rc = 0;
		}
	}

done:
	close(fd);
	return rc;
}

/* A listening TCP socket reports its accept queue in TCP_INFO. */
static int
queue_tcp(uint32_t *len, uint32_t *limit)
{
	struct tcp_info info;
	socklen_t infolen = sizeof(info);

	if (getsockopt(queue_fd, IPPROTO_TCP, TCP_INFO, &info, &infolen) != 0) {
		return -1;
	}
	*len = info.tcpi_unacked;
	*limit = info.tcpi_sacked;
	return 0;
}

void
tn_scoreboard_sample_queue(void)
{
	uint32_t len = 0, limit = 0, max;
	int rc;

	if (board == NULL || queue_fd < 0) {
		return;
	}

	rc = queue_family == AF_UNIX ? queue_unix(&len, &limit)
	                             : queue_tcp(&len, &limit);
	if (rc != 0) {
		return;
	}

	STORE(&board->counters.listen_queue, len);
	STORE(&board->counters.listen_queue_limit, limit);
	max = LOAD(&board->counters.listen_queue_max);
	while (len > max &&
	    !__atomic_compare_exchange_n(&board->counters.listen_queue_max,
	        &max, len, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
}

void
tn_scoreboard_attach(int slot)
{
	if (board == NULL || slot < 0 || slot >= board->nslots) {
		return;
	}
	own = &board->slots[slot];
	own_index = slot;

	STORE(&own->requests, 0);
	STORE(&own->last_duration_us, 0);
	own->method[0] = '\0';
	own->path[0] = '\0';
	own->tenant[0] = '\0';
	STORE(&own->state, TN_WORKER_STARTING);
	STORE(&own->pid, (int32_t)getpid());
}

void
tn_scoreboard_state(tn_worker_state state)
{
	if (own != NULL) {
		STORE(&own->state, (int32_t)state);
	}
}

/*
 * Counts an accepted request, and the moment as one when all workers
 * were busy if no other worker of the pool was idle.
 */
void
tn_scoreboard_accepted(void)
{
	int i;

	if (own == NULL) {
		return;
	}
	ADD(&board->counters.accepted, 1);

	for (i = 0; i < board->nslots; i++) {
		if (i != own_index && LOAD(&board->slots[i].pid) != 0 &&
		    LOAD(&board->slots[i].state) == TN_WORKER_IDLE) {
			return;
		}
	}
	ADD(&board->counters.all_busy, 1);
}

static void
copy_field(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen) {
		n = dstlen - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
tn_scoreboard_begin(
    const char *method, const char *path, const char *tenant, double started)
{
	uint32_t seq;

	if (own == NULL) {
		return;
	}

	/* readers retry while seq is odd or has changed under them */
	seq = LOAD(&own->seq);
	STORE(&own->seq, seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	copy_field(own->method, sizeof(own->method), method);
	copy_field(own->path, sizeof(own->path), path);
	copy_field(own->tenant, sizeof(own->tenant), tenant);
	own->request_started = started;
	__atomic_store_n(&own->seq, seq + 2, __ATOMIC_RELEASE);

	STORE(&own->state, TN_WORKER_WORKING);
}

static int
bucket_of(double seconds)
{
	int b;

	for (b = 0; b < TN_SB_BUCKETS - 1; b++) {
		if (seconds <= bucket_le[b]) {
			return b;
		}
	}
	return TN_SB_BUCKETS - 1;
}

static void
observe(tn_sb_histogram *h, double ms)
{
	BUMP(&h->buckets[bucket_of(ms / 1000.0)], 1);
	BUMP(&h->sum_us, (uint64_t)(ms * 1000.0));
}

void
tn_scoreboard_done(
    int route, int status, double duration_ms, double db_ms, int db_round_trips)
{
	int c;

	if (own == NULL) {
		return;
	}
	if (route < 0 || route >= TN_SB_ROUTES) {
		route = 0;
	}
	for (c = TN_SB_CODES - 1; c > 0 && codes[c] != status; c--) {
	}
	if (duration_ms < 0) {
		duration_ms = 0;
	}

	observe(&own->duration[route][c], duration_ms);
	observe(&own->db[route], db_ms > 0 ? db_ms : 0);
	BUMP(&own->db_round_trips[route], (uint64_t)db_round_trips);
	BUMP(&own->requests, 1);
	STORE(&own->last_duration_us, (uint64_t)(duration_ms * 1000.0));
}

int
tn_scoreboard_worker(int slot, tn_sb_worker *out)
{
	const tn_sb_slot *s;
	uint32_t before, after;
	double started = 0;
	int tries, state;

	memset(out, 0, sizeof(*out));
	if (board == NULL || slot < 0 || slot >= board->nslots) {
		return -1;
	}
	s = &board->slots[slot];
	out->pid = LOAD(&s->pid);
	if (out->pid == 0) {
		return -1;
	}
	state = LOAD(&s->state);
	out->state = state > 0 && state < TN_WORKER_STATES
	    ? (tn_worker_state)state
	    : TN_WORKER_NONE;
	out->started_ms = LOAD(&s->started_ms);
	out->requests = LOAD(&s->requests);

	for (tries = 0; tries < 1000; tries++) {
		before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (before % 2 != 0) {
			continue;
		}
		memcpy(out->method, s->method, sizeof(out->method));
		memcpy(out->path, s->path, sizeof(out->path));
		memcpy(out->tenant, s->tenant, sizeof(out->tenant));
		started = s->request_started;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = LOAD(&s->seq);
		if (after == before) {
			break;
		}
	}
	out->method[sizeof(out->method) - 1] = '\0';
	out->path[sizeof(out->path) - 1] = '\0';
	out->tenant[sizeof(out->tenant) - 1] = '\0';

	if (out->state == TN_WORKER_WORKING ||
	    out->state == TN_WORKER_FINISHING) {
		out->duration_ms = tn_db_clock_ms() - started;
	} else {
		out->duration_ms = (double)LOAD(&s->last_duration_us) / 1000.0;
	}
	return 0;
}

void
tn_scoreboard_pool(tn_sb_pool *out)
{
	int i, state;

	memset(out, 0, sizeof(*out));
	if (board == NULL) {
		return;
	}
	out->started_ms = board->started_ms;
	out->uptime_s = (tn_db_clock_ms() - board->started) / 1000.0;
	out->workers = board->workers;
	out->counters.accepted = LOAD(&board->counters.accepted);
	out->counters.all_busy = LOAD(&board->counters.all_busy);
	out->counters.restarts = LOAD(&board->counters.restarts);
	out->counters.recycles = LOAD(&board->counters.recycles);
	out->counters.listen_queue = LOAD(&board->counters.listen_queue);
	out->counters.listen_queue_max =
	    LOAD(&board->counters.listen_queue_max);
	out->counters.listen_queue_limit =
	    LOAD(&board->counters.listen_queue_limit);

	for (i = 0; i < board->nslots; i++) {
		state = LOAD(&board->slots[i].state);
		if (LOAD(&board->slots[i].pid) != 0 && state > 0 &&
		    state < TN_WORKER_STATES) {
			out->by_state[state]++;
		}
	}
}

void
tn_scoreboard_sum(
    int route, int code, tn_sb_histogram *out, uint64_t *round_trips)
{
	const tn_sb_histogram *h;
	int i, b;

	memset(out, 0, sizeof(*out));
	if (round_trips != NULL) {
		*round_trips = 0;
	}
	if (board == NULL || route < 0 || route >= TN_SB_ROUTES ||
	    code >= TN_SB_CODES) {
		return;
	}

	for (i = 0; i < board->nslots; i++) {
		if (code >= 0) {
			h = &board->slots[i].duration[route][code];
		} else {
			h = &board->slots[i].db[route];
			if (round_trips != NULL) {
				*round_trips += LOAD(
				    &board->slots[i].db_round_trips[route]);
			}
		}
		for (b = 0; b < TN_SB_BUCKETS; b++) {
			out->buckets[b] += LOAD(&h->buckets[b]);
		}
		out->sum_us += LOAD(&h->sum_us);
	}
}

const char *
tn_scoreboard_state_name(tn_worker_state state)
{
	if ((int)state < 0 || (int)state >= TN_WORKER_STATES) {
		return "none";
	}
	return state_names[state];
}

int
tn_scoreboard_code(int index)
{
	return index >= 0 && index < TN_SB_CODES ? codes[index] : 0;
}

double
tn_scoreboard_bucket_le(int bucket)
{
	if (bucket < 0 || bucket >= TN_SB_BUCKETS - 1) {
		return INFINITY;
	}
	return bucket_le[bucket];
}
