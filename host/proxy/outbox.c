#include "proxy/outbox.h"

#include <stdio.h>

#include "base/clock.h"
#include "proxy/traffic.h"

int outbox_drain(proxy *p, peer *pe) {
    size_t sent = 0;
    while (pe->kept_head) {
        kept_msg *k = pe->kept_head;
        char why[256];
        uint64_t seq;
        int rc = transport_try_send(p->tr, pe->tp, &k->h, k->payload, &seq, why, sizeof why);
        if (rc == 0) break; /* full: the rest goes with the next send, or later */
        unsigned long held;
        if (rc < 0 && log_limiter_pass(&p->oom_lim, 5.0, &held))
            log_warn("dropped a message kept for '%s': %s (%lu more held back)", pe->name, why,
                     held);
        else if (rc > 0) traffic_note(p, 0, &k->h, k->payload ? blob_size(k->payload) : 0);
        peer_drop_kept(pe);
        sent += rc > 0;
        p->sent += rc > 0;
    }
    if (sent) log_debug("delivered %zu message%s kept for '%s'", sent, proxy_plural(sent), pe->name);
    return pe->kept_head == NULL;
}

int outbox_put(proxy *p, peer *pe, const wire_header *h, blob *payload, uint64_t *seq,
               char *err, size_t errlen) {
    if (pe->state == PEER_DOWN) {
        double ago = clock_now() - pe->left;
        if (!p->cfg.enable_cache) {
            snprintf(err, errlen, "'%s' in group '%s' is down (it left %.1f s ago and is "
                     "expected back within peers_catch_lifetime, %g s); messages to a peer "
                     "that is down are kept only with enable_message_cache_for_rejoin",
                     pe->name, p->group, ago, p->cfg.peers_catch_lifetime);
            return OUTBOX_ERROR;
        }
        if (pe->n_kept >= p->cfg.max_cache) {
            snprintf(err, errlen, "'%s' in group '%s' is down (it left %.1f s ago) and already "
                     "has %zu message%s kept for it (max_length_for_message_cache); this one "
                     "is not sent: wait until it is back, or raise the bound", pe->name,
                     p->group, ago, pe->n_kept, proxy_plural(pe->n_kept));
            return OUTBOX_ERROR;
        }
        if (peer_keep(pe, h, payload) != 0) {
            snprintf(err, errlen, "out of memory while keeping a message for '%s', which is "
                     "down", pe->name);
            return OUTBOX_ERROR;
        }
        *seq = SESSION_NOT_SENT;
        return OUTBOX_KEPT;
    }
    if (pe->kept_head && !outbox_drain(p, pe)) return OUTBOX_FULL;
    char why[256];
    int rc = transport_try_send(p->tr, pe->tp, h, payload, seq, why, sizeof why);
    if (rc > 0) {
        p->sent++;
        traffic_note(p, 0, h, payload ? blob_size(payload) : 0);
        return OUTBOX_SENT;
    }
    if (rc < 0) {
        snprintf(err, errlen, "sending to '%s': %s", pe->name, why);
        return OUTBOX_ERROR;
    }
    return OUTBOX_FULL;
}
