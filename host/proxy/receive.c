/* receive.c: where a received message goes. transport_try_recv ->
 * accept_rx (checks, session stages) -> handed to the waiting call when it
 * matches, else kept in the receive buffer (rxbuf) for a later receive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/proxy_impl.h"
#include "proxy/signals.h"
#include "wire/payload.h"

static void drop(proxy *p, const char *why) {
    p->dropped++;
    unsigned long held;
    if (log_limiter_pass(&p->drop_lim, 5.0, &held))
        log_warn("dropped a message received by '%s' (%lu dropped so far, %lu lines held "
                 "back): %s", p->name, p->dropped, held, why);
}

/* Checks a received message and follows its session. 0: it is to be
 * delivered, and it->h (pointing into rx's header) and it->payload are set;
 * -1: it was dropped, or was an ack that only moves a stage. Takes rx's payload. */
static int accept_rx(proxy *p, transport_rx *rx, rx_item *it) {
    char err[300];
    it->header = NULL;
    it->payload = rx->payload;
    if (wire_header_decode(rx->header, rx->header_len, &it->h, err, sizeof err)) {
        drop(p, err);
    } else if (it->h.group.len != strlen(p->group) ||
               memcmp(it->h.group.ptr, p->group, it->h.group.len) != 0) {
        snprintf(err, sizeof err, "its header names group '%.*s', not '%s'",
                 (int)(it->h.group.len > 64 ? 64 : it->h.group.len), it->h.group.ptr, p->group);
        drop(p, err);
    } else if (payload_decode(NULL, blob_data(it->payload), blob_size(it->payload), err,
                              sizeof err)) {
        drop(p, err);
    } else if (session_on_arrival(p->sessions, &it->h) != SESSION_SWALLOW) {
        return 0;
    }
    blob_unref(it->payload);
    it->payload = NULL;
    return -1;
}

static void rebase(wire_slice *s, const char *from, const char *to) {
    s->ptr = to + (s->ptr - from);
}

/* A copy of an accepted message that outlives the transport's header buffer. */
static rx_item *keep(proxy *p, const transport_rx *rx, rx_item *scratch) {
    rx_item *it = malloc(sizeof *it);
    blob *hb = it ? blob_copy(rx->header, rx->header_len) : NULL;
    if (!hb) {
        free(it);
        blob_unref(scratch->payload);
        scratch->payload = NULL;
        drop(p, "out of memory while keeping a message for later");
        return NULL;
    }
    *it = *scratch;
    it->header = hb;
    wire_slice *slices[] = {&it->h.group,       &it->h.tag,        &it->h.source,
                            &it->h.destination, &it->h.session_id, &it->h.message_id};
    for (int i = 0; i < 6; i++) rebase(slices[i], rx->header, blob_data(hb));
    scratch->payload = NULL;
    return it;
}

void proxy_release(proxy *p, rx_item *it) {
    if (it == &p->scratch) {
        blob_unref(it->payload);
        it->payload = NULL;
    } else {
        rx_item_free(it);
    }
}

static int buffer_full(proxy *p) {
    if (p->buf.count < p->cfg.max_buffered_messages) return 0;
    unsigned long held;
    if (log_limiter_pass(&p->full_lim, 5.0, &held))
        log_warn("'%s' holds %zu received messages that no receive took yet (the bound, "
                 "max_buffered_messages); it reads no more from the network until "
                 "receive or receive_once takes some, so senders wait", p->name, p->buf.count);
    return 1;
}

/* Reads what the network has; returns the first message match takes
 * (p->scratch: hand it out before the next read), buffering the others. */
rx_item *proxy_pump(proxy *p, proxy_match_fn match, void *ctx, int *full) {
    *full = 0;
    for (;;) {
        if (buffer_full(p)) {
            *full = 1;
            return NULL;
        }
        transport_rx rx;
        char err[256];
        int rc = transport_try_recv(p->tr, &rx, err, sizeof err);
        if (rc == 0) return NULL;
        if (rc < 0) {
            drop(p, err);
            continue;
        }
        if (accept_rx(p, &rx, &p->scratch) != 0) continue;
        if (match && match(ctx, &p->scratch.h)) return &p->scratch;
        rx_item *it = keep(p, &rx, &p->scratch);
        if (it) rxbuf_push(&p->buf, it);
    }
}

/* The one place the proxy waits: messages, a peer's queue, signals, and
 * discovery's change notifications. A signal makes the process leave and
 * exit; a change makes the peer table refresh now. */
int proxy_wait_events(proxy *p, int readable, transport_peer *writable, double timeout) {
    transport_fd fds[2 + PROXY_MAX_WATCHED_FDS] = {{signals_fd(), 0},
                                                   {discovery_notify_fd(p->disc), 0}};
    for (int i = 0; i < p->n_extra; i++) fds[2 + i] = (transport_fd){p->extra_fds[i], 0};
    int bits = transport_wait(p->tr, readable, writable, fds, 2 + p->n_extra, timeout);
    if (fds[0].ready) signals_drain();
    if (signals_pending()) signals_act();
    if (fds[1].ready && discovery_changes(p->disc) > 0) p->next_refresh = 0;
    for (int i = 0; i < p->n_extra; i++) p->woken |= fds[2 + i].ready;
    return bits;
}

int proxy_watch_fd(proxy *p, int fd) {
    if (p->n_extra >= PROXY_MAX_WATCHED_FDS) return -1;
    p->extra_fds[p->n_extra++] = fd;
    return 0;
}

void proxy_unwatch_fd(proxy *p, int fd) {
    for (int i = 0; i < p->n_extra; i++)
        if (p->extra_fds[i] == fd) {
            p->extra_fds[i] = p->extra_fds[--p->n_extra];
            return;
        }
}

rx_item *proxy_take_buffered(proxy *p, proxy_match_fn match, void *ctx) {
    for (rx_item *it = p->buf.head; it; it = it->next) {
        if (match && !match(ctx, &it->h)) continue;
        rxbuf_unlink(&p->buf, it);
        return it;
    }
    return NULL;
}

static int take_all(void *ctx, const wire_header *h) {
    (void)ctx;
    (void)h;
    return 1;
}

rx_item *proxy_wait_next(proxy *p, double deadline, proxy_match_fn match, void *ctx,
                         int *status) {
    if (!match) match = take_all;
    for (;;) {
        /* A member joined or left: learn its address before handing out a
         * message that may be answered at once. */
        if (p->next_refresh == 0) proxy_refresh_peers(p);
        int full;
        rx_item *it = proxy_pump(p, match, ctx, &full);
        if (it) {
            *status = PROXY_GOT;
            return it;
        }
        if (full) {
            *status = PROXY_FULL;
            return NULL;
        }
        if (deadline == PROXY_NO_WAIT) {
            *status = PROXY_TIMEOUT;
            return NULL;
        }
        double now = clock_now();
        if (deadline >= 0 && now >= deadline) {
            *status = PROXY_TIMEOUT;
            return NULL;
        }
        if (now >= p->next_refresh) {
            proxy_refresh_peers(p);
            continue;
        }
        double t = p->next_refresh - now;
        if (deadline >= 0 && deadline - now < t) t = deadline - now;
        proxy_wait_events(p, 1, NULL, t);
        if (p->woken) {
            p->woken = 0;
            *status = PROXY_WOKEN;
            return NULL;
        }
    }
}
