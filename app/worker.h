/* One worker: accept, build the request, dispatch, answer, finish. */
#ifndef TN_WORKER_H
#define TN_WORKER_H

#include "settings.h"

/*
 * Serves requests on listen_fd, noting them in its scoreboard slot, until
 * told to stop (SIGTERM, SIGHUP), until max_requests are served, or until
 * the master is gone. Never returns: exits 0 after a clean stop.
 */
void tn_worker_run(int listen_fd, int slot, const tn_settings *s)
    __attribute__((noreturn));

#endif
