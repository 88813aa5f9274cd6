/* outbox.h: one message to one peer, now or never: queued at the
 * transport, kept for a peer that is down (enable_message_cache_for_rejoin),
 * or refused. The one rule for what a peer has kept: it leaves first, in
 * order, before anything sent later. Never waits. */
#ifndef MARO_OUTBOX_H
#define MARO_OUTBOX_H

#include "proxy/proxy_impl.h"

enum { OUTBOX_SENT = 1, OUTBOX_FULL = 0, OUTBOX_KEPT = 2, OUTBOX_ERROR = -1 };

/* *seq: the packet it went in (SESSION_NOT_SENT when kept). */
int outbox_put(proxy *p, peer *pe, const wire_header *h, blob *payload, uint64_t *seq,
               char *err, size_t errlen);
/* Sends what was kept for a live peer while its queue takes it. 1 when
 * nothing is left kept. */
int outbox_drain(proxy *p, peer *pe);

#endif
