/* Method and path to handler, with the checks a route asks for. */
#ifndef TN_ROUTER_H
#define TN_ROUTER_H

#include "http.h"

/* Answers req: finds its route, resolves its tenant, runs the handler. */
void tn_router_dispatch(tn_req *req);

#endif
