/*
 * The scoreboard: what every worker is doing and how requests went,
 * kept in memory the master shares with its workers.
 */
#ifndef TN_SCOREBOARD_H
#define TN_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

/* Route table index + 1 (0: no route matched); the router checks it. */
#define TN_SB_ROUTES 64
/* Status codes counted on their own; the last index holds any other. */
#define TN_SB_CODES 24
/* Histogram buckets; the last one is +Inf. */
#define TN_SB_BUCKETS 14

#define TN_SB_METHOD 8
#define TN_SB_PATH   128
#define TN_SB_TENANT 64

typedef enum {
	TN_WORKER_NONE = 0,  /* no process in this slot */
	TN_WORKER_STARTING,  /* forked, connecting to the database */
	TN_WORKER_IDLE,      /* waiting for a connection */
	TN_WORKER_READING,   /* reading a request's FastCGI records */
	TN_WORKER_WORKING,   /* running the request */
	TN_WORKER_FINISHING, /* writing the answer */
	TN_WORKER_STATES
} tn_worker_state;

/* How a worker ended, as the master saw it. */
typedef enum {
	TN_WORKER_CRASHED,  /* a signal or a non-zero exit: it is respawned */
	TN_WORKER_RECYCLED, /* it served its requests and left */
	TN_WORKER_STOPPED   /* the master told it to stop */
} tn_worker_end;

typedef struct {
	uint64_t buckets[TN_SB_BUCKETS]; /* per bucket, not cumulative */
	uint64_t sum_us;
} tn_sb_histogram;

/* One worker's slot. Each field has a single writer. */
typedef struct {
	/* written by the master */
	int32_t pid;
	int64_t started_ms; /* wall clock */

	/* written by the worker in the slot */
	int32_t state;
	uint64_t requests; /* served by this process */
	uint32_t seq;      /* odd while the current request is written */
	char method[TN_SB_METHOD];
	char path[TN_SB_PATH];
	char tenant[TN_SB_TENANT];
	double request_started; /* monotonic ms */
	uint64_t last_duration_us;

	/* kept across the processes the slot has had */
	tn_sb_histogram duration[TN_SB_ROUTES][TN_SB_CODES];
	tn_sb_histogram db[TN_SB_ROUTES];
	uint64_t db_round_trips[TN_SB_ROUTES];
} tn_sb_slot;

/* The pool's counters. */
typedef struct {
	uint64_t accepted; /* added to by every worker */
	uint64_t all_busy;
	uint64_t restarts; /* written by the master */
	uint64_t recycles;
	uint32_t listen_queue; /* by the master and status readers */
	uint32_t listen_queue_max;
	uint32_t listen_queue_limit;
} tn_sb_counters;

typedef struct {
	int64_t started_ms; /* wall clock */
	double started;     /* monotonic ms */
	int32_t nslots;
	int32_t workers; /* the configured number */
	tn_sb_counters counters;
	tn_sb_slot slots[];
} tn_scoreboard;

/* A consistent copy of what one worker is doing. */
typedef struct {
	int pid;
	tn_worker_state state;
	int64_t started_ms;
	uint64_t requests;
	char method[TN_SB_METHOD];
	char path[TN_SB_PATH];
	char tenant[TN_SB_TENANT];
	double duration_ms; /* of the request in flight, else of the last */
} tn_sb_worker;

/* The pool's figures at one moment. */
typedef struct {
	int64_t started_ms; /* wall clock */
	double uptime_s;
	int workers; /* the configured number */
	tn_sb_counters counters;
	int by_state[TN_WORKER_STATES]; /* live workers in each state */
} tn_sb_pool;

/*
 * Maps the shared scoreboard for nslots workers; the master calls it
 * before forking. listen_fd is sampled for its queue. Returns 0 or -1.
 */
int tn_scoreboard_create(int nslots, int workers, int listen_fd);

/* The scoreboard, or NULL in a process that has none. */
const tn_scoreboard *tn_scoreboard_get(void);

/* The master: a worker was forked into slot, or has ended. */
void tn_scoreboard_spawned(int slot, pid_t pid);
void tn_scoreboard_ended(int slot, tn_worker_end how);

/*
 * Reads the listening socket's queue (sock_diag for a unix socket,
 * TCP_INFO for TCP) into the scoreboard and raises its maximum.
 */
void tn_scoreboard_sample_queue(void);

/* The worker: takes its slot, then notes its state and its requests. */
void tn_scoreboard_attach(int slot);
void tn_scoreboard_state(tn_worker_state state);
void tn_scoreboard_accepted(void);
void tn_scoreboard_begin(
    const char *method, const char *path, const char *tenant, double started);
void tn_scoreboard_done(int route, int status, double duration_ms, double db_ms,
    int db_round_trips);

/* Copies slot's worker into out; returns 0, or -1 when the slot is empty. */
int tn_scoreboard_worker(int slot, tn_sb_worker *out);

/* Reads the pool's counters and counts its workers by state. */
void tn_scoreboard_pool(tn_sb_pool *out);

/*
 * Sums one histogram over every slot: request durations of a route and
 * code index, or (code -1) database time of a route with its round trips.
 */
void tn_scoreboard_sum(
    int route, int code, tn_sb_histogram *out, uint64_t *round_trips);

/* The name of a state, and the status code of a code index (0: other). */
const char *tn_scoreboard_state_name(tn_worker_state state);
int tn_scoreboard_code(int index);

/* The upper bound of a bucket in seconds (the last is +Inf). */
double tn_scoreboard_bucket_le(int bucket);

#endif
