/* Method and path to handler, with the checks a route asks for. */
#ifndef TN_ROUTER_H
#define TN_ROUTER_H

#include "http.h"

/* Answers req: finds its route, resolves its tenant, runs the handler. */
void tn_router_dispatch(tn_req *req);

/*
 * The method and path pattern of a route by its index (req->route, from
 * 1). Returns 0, or -1 past the last route.
 */
int tn_router_route(int index, const char **method, const char **pattern);

#endif
