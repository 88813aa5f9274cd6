#include "proxy/loop.h"

#include "base/clock.h"
#include "base/interrupt.h"
#include "proxy/inbox.h"
#include "proxy/membership.h"

int loop_run(proxy *p, const proxy_wait_spec *w, peer *writable) {
    for (;;) {
        /* What arrived first: a peer's last acknowledgement comes before its
         * goodbye, which travels through Redis. */
        unsigned long opened = p->rx_opened;
        int full = inbox_pump(p, w);
        /* A receive loop turns once a message, and a packet holds many. A
         * wait that ends on a packet opened on an earlier turn ends here: the
         * rest of the turn (membership, acknowledgements) ran when it was
         * opened. */
        if (p->rx_opened == opened && p->rx_open && w->done && w->done(w->ctx))
            return PROXY_DONE;
        double now = clock_now(); /* once a turn: a receive loop turns once a message */
        membership_sync_at(p, now);
        inbox_acknowledge(p, now, 0);
        if (w->done && w->done(w->ctx)) return PROXY_DONE;
        if (!w->uninterruptible && interrupt_pending()) return PROXY_INTERRUPTED;
        if (w->deadline == PROXY_NO_WAIT) return PROXY_TIMEOUT;
        if (w->deadline >= 0 && now >= w->deadline) return PROXY_TIMEOUT;
        /* Waiting for particular messages with the buffer full of others
         * cannot end well: the caller hands what it has back. */
        if (full && w->take) return PROXY_FULL;
        double until = membership_due(p), acks = inbox_ack_due(p, now);
        if (acks < until) until = acks;
        if (w->deadline >= 0 && w->deadline < until) until = w->deadline;
        transport_fd fds[2 + PROXY_MAX_WATCHED_FDS] = {
            {discovery_notify_fd(p->disc), 0}, {w->uninterruptible ? -1 : interrupt_fd(), 0}};
        int nfds = 2;
        if (w->watched)
            for (int i = 0; i < p->n_watched; i++) fds[nfds++] = (transport_fd){p->watched[i], 0};
        double timeout = until - now;
        if (timeout < 0) timeout = 0;
        transport_wait(p->tr, !full, writable && writable->state == PEER_LIVE ? writable->tp : NULL,
                       fds, nfds, timeout);
        for (int i = 2; i < nfds; i++)
            if (fds[i].ready) return PROXY_WOKEN;
        /* A writable peer ends the wait for the caller to try again; so does
         * the predicate, checked at the top. */
        if (writable) return PROXY_DONE;
    }
}
