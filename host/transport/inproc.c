/* inproc.c: the hub and the in-process transport driver.
 *
 * Each transport owns an endpoint: a queue of (header, payload) frames at the
 * address "inproc://HUB/N". A send appends to the receiver's queue at once
 * (the header copied, the payload blob shared), so a spec can send, step
 * the receiver and look at the reply without any thread in between; the
 * receiver decodes the frames exactly as it decodes them from the network.
 *
 * Readability needs no descriptor: every member of a hub runs on the
 * caller's thread, so the queue is looked at before waiting and can only
 * grow while the hub's idle hook runs. A wait therefore polls just the
 * descriptors the proxy passes (signals, a file watcher), in slices while
 * an idle hook drives other members. Queues have no bound: nobody would
 * drain a full one while its sender waits, so a send never waits. */
#include "transport/inproc.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "transport/transport.h"

/* While an idle hook drives other members and they do nothing, the wait
 * looks again this often (a driven worker may act on time alone). */
#define INPROC_IDLE_SLICE 0.01
/* Idle hooks that wait themselves nest; past this depth they are not run. */
#define INPROC_MAX_IDLE_DEPTH 8

typedef struct inproc_msg {
    struct inproc_msg *next;
    blob *header, *payload;
} inproc_msg;

struct inproc_endpoint {
    struct inproc_endpoint *next; /* in the hub's list */
    int refs, open;               /* refs: the transport and the peers connected to it */
    char address[64];
    inproc_msg *head, *tail;
};

struct transport_peer {
    struct inproc_endpoint *ep;
};

typedef struct inproc_tr {
    transport base;
    inproc_hub *hub;
    struct inproc_endpoint *ep;
    blob *last_header; /* lent to the caller until the next receive */
    transport_config cfg;
} inproc_tr;

/* ---- the hub --------------------------------------------------------------- */

inproc_hub *inproc_hub_new(void) {
    static unsigned long next_id;
    inproc_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->refs = 1;
    h->id = ++next_id;
    return h;
}

inproc_hub *inproc_hub_ref(inproc_hub *h) {
    h->refs++;
    return h;
}

void inproc_hub_unref(inproc_hub *h) {
    if (h && --h->refs == 0) free(h); /* every member holds a reference: the lists are empty */
}

void inproc_hub_set_idle(inproc_hub *h, inproc_idle_fn fn, void *ctx) {
    h->idle = fn;
    h->idle_ctx = ctx;
}

/* ---- endpoints ------------------------------------------------------------- */

static void endpoint_drain(struct inproc_endpoint *ep) {
    while (ep->head) {
        inproc_msg *m = ep->head;
        ep->head = m->next;
        blob_unref(m->header);
        blob_unref(m->payload);
        free(m);
    }
    ep->tail = NULL;
}

static void endpoint_unref(struct inproc_endpoint *ep) {
    if (--ep->refs > 0) return;
    endpoint_drain(ep);
    free(ep);
}

static void endpoint_unlink(inproc_hub *h, struct inproc_endpoint *ep) {
    for (struct inproc_endpoint **pp = &h->endpoints; *pp; pp = &(*pp)->next)
        if (*pp == ep) {
            *pp = ep->next;
            return;
        }
}

/* ---- the driver ------------------------------------------------------------ */

static const char *inproc_address(transport *t) { return ((inproc_tr *)t)->ep->address; }

static transport_peer *inproc_connect(transport *t, const char *address, char *err,
                                      size_t errlen) {
    inproc_tr *it = (inproc_tr *)t;
    struct inproc_endpoint *ep = it->hub->endpoints;
    while (ep && strcmp(ep->address, address) != 0) ep = ep->next;
    if (!ep) {
        snprintf(err, errlen, "no member of this process's hub is at %s", address);
        return NULL;
    }
    transport_peer *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ep->refs++;
    p->ep = ep;
    return p;
}

static void inproc_disconnect(transport *t, transport_peer *p, int discard) {
    (void)t;
    (void)discard; /* what was sent is in the receiver's queue already */
    if (!p) return;
    endpoint_unref(p->ep);
    free(p);
}

static int inproc_try_send(transport *t, transport_peer *p, const char *header,
                           size_t header_len, blob *payload, char *err, size_t errlen) {
    inproc_tr *it = (inproc_tr *)t;
    struct inproc_endpoint *ep = p->ep;
    if (!ep->open) return 1; /* the receiver closed: lost, as to a process that exited */
    inproc_msg *m = malloc(sizeof *m);
    blob *hb = m ? blob_copy(header, header_len) : NULL;
    if (!hb) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->next = NULL;
    m->header = hb;
    m->payload = blob_ref(payload);
    if (ep->tail) ep->tail->next = m;
    else ep->head = m;
    ep->tail = m;
    it->hub->delivered++;
    return 1;
}

static int inproc_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    inproc_tr *it = (inproc_tr *)t;
    inproc_msg *m = it->ep->head;
    if (!m) return 0;
    it->ep->head = m->next;
    if (!m->next) it->ep->tail = NULL;
    blob_unref(it->last_header);
    it->last_header = m->header;
    blob *payload = m->payload;
    free(m);
    /* As ZeroMQ's ZMQ_MAXMSGSIZE does on the network. */
    long long max = it->cfg.max_message_size;
    size_t big = blob_size(it->last_header) > blob_size(payload) ? blob_size(it->last_header)
                                                                 : blob_size(payload);
    if (max >= 0 && big > (unsigned long long)max) {
        blob_unref(payload);
        snprintf(err, errlen, "a frame of %zu bytes (max_message_size is %lld)", big, max);
        return -1;
    }
    rx->header = blob_data(it->last_header);
    rx->header_len = blob_size(it->last_header);
    rx->payload = payload;
    return 1;
}

/* Polls the proxy's descriptors; returns TRANSPORT_FD when one is readable,
 * 0 on timeout, -1 when a signal interrupted the poll. */
static int poll_fds(transport_fd *fds, int nfds, double timeout) {
    struct pollfd pfd[8];
    if (nfds > 8) nfds = 8;
    for (int i = 0; i < nfds; i++) pfd[i] = (struct pollfd){fds[i].fd, POLLIN, 0};
    int ms = timeout < 0 ? -1 : (int)ceil(timeout * 1000.0);
    int n = poll(pfd, (nfds_t)nfds, ms);
    if (n < 0) return errno == EINTR ? -1 : 0;
    int seen = 0;
    for (int i = 0; i < nfds; i++)
        if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
            fds[i].ready = 1;
            seen = TRANSPORT_FD;
        }
    return seen;
}

static int inproc_wait(transport *t, int readable, transport_peer *writable, transport_fd *fds,
                       int nfds, double timeout) {
    static int idle_depth;
    inproc_tr *it = (inproc_tr *)t;
    inproc_hub *h = it->hub;
    double deadline = timeout < 0 ? -1 : clock_now() + timeout;
    for (int i = 0; i < nfds; i++) fds[i].ready = 0;
    for (;;) {
        int seen = writable ? TRANSPORT_WRITABLE : 0; /* queues have no bound */
        if (readable && it->ep->head) seen |= TRANSPORT_READABLE;
        int fd = poll_fds(fds, nfds, 0);
        if (fd < 0) return seen;
        if (seen | fd) return seen | fd;
        double left = deadline < 0 ? -1 : deadline - clock_now();
        if (deadline >= 0 && left <= 0) return 0;
        int drive = h->idle && idle_depth < INPROC_MAX_IDLE_DEPTH;
        if (drive) {
            unsigned long before = h->delivered;
            idle_depth++;
            int did = h->idle(h->idle_ctx, it->ep->address);
            idle_depth--;
            if (did || h->delivered != before) continue; /* look again at once */
        }
        double slice = drive && (left < 0 || left > INPROC_IDLE_SLICE) ? INPROC_IDLE_SLICE : left;
        fd = poll_fds(fds, nfds, slice);
        if (fd != 0) return fd < 0 ? 0 : fd;
        if (!drive) return 0; /* the whole timeout went by */
    }
}

static void inproc_close(transport *t) {
    inproc_tr *it = (inproc_tr *)t;
    if (it->ep) {
        it->ep->open = 0;
        endpoint_drain(it->ep);
        endpoint_unlink(it->hub, it->ep);
        endpoint_unref(it->ep);
    }
    blob_unref(it->last_header);
    inproc_hub_unref(it->hub);
    free(it);
}

static const struct transport_ops inproc_ops = {
    inproc_address, inproc_connect, inproc_disconnect, inproc_try_send,
    inproc_try_recv, inproc_wait,   inproc_close};

transport *inproc_transport_open(inproc_hub *hub, const transport_config *cfg, char *err,
                                 size_t errlen) {
    inproc_tr *it = calloc(1, sizeof *it);
    struct inproc_endpoint *ep = calloc(1, sizeof *ep);
    if (!it || !ep) {
        free(it);
        free(ep);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    it->base.ops = &inproc_ops;
    it->hub = inproc_hub_ref(hub);
    it->cfg = *cfg;
    ep->refs = 1;
    ep->open = 1;
    snprintf(ep->address, sizeof ep->address, "inproc://%lu/%lu", hub->id, ++hub->next_endpoint);
    ep->next = hub->endpoints;
    hub->endpoints = ep;
    it->ep = ep;
    return &it->base;
}
