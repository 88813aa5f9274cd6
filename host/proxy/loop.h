/* loop.h: the one place a proxy waits (docs/proxy.md, "The one wait"). It
 * is the only caller of transport_wait: before every wait membership is
 * brought up to date and what arrived is taken in; the wait ends when the
 * caller's predicate holds, at its deadline, on a signal, or on a watched
 * descriptor. Joining, sends that wait for room or for minimal_peers, and
 * receives are all predicates of it. */
#ifndef MARO_LOOP_H
#define MARO_LOOP_H

#include "proxy/proxy_impl.h"

/* As proxy_wait; writable: also wake when this peer's queue has room. */
int loop_run(proxy *p, const proxy_wait_spec *w, peer *writable);

#endif
