/* inproc.c: the hub and the in-process transport driver.
 *
 * Each transport owns an endpoint: a queue of transmissions at the address
 * "inproc://HUB/N". A send packs the message into a packet and appends it to
 * the receiver's queue at once (a large payload shared, not copied), so a
 * spec can send, step the receiver and look at the reply without any thread
 * in between; the receiver decodes packets exactly as from the network.
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

#include "base/buf.h"
#include "base/clock.h"
#include "transport/transport.h"

/* While an idle hook drives other members and they do nothing, the wait
 * looks again this often (a driven worker may act on time alone). */
#define INPROC_IDLE_SLICE 0.01
/* Idle hooks that wait themselves nest; past this depth they are not run. */
#define INPROC_MAX_IDLE_DEPTH 8

typedef struct inproc_msg {
    struct inproc_msg *next;
    blob *packet, *frame; /* frame: a payload sent apart, or NULL */
} inproc_msg;

struct inproc_endpoint {
    struct inproc_endpoint *next; /* in the hub's list */
    int refs, open;               /* refs: the transport and the peers connected to it */
    char address[64];
    inproc_msg *head, *tail;
};

struct transport_peer {
    struct inproc_endpoint *ep;
    struct transport_peer *prev, *next; /* the transport's, freed with it */
};

typedef struct inproc_tr {
    transport base;
    inproc_hub *hub;
    struct inproc_endpoint *ep;
    transport_config cfg;
    char group[WIRE_MAX_NAME + 1], name[WIRE_MAX_NAME + 1];
    uint64_t seq;
    buf scratch;
    struct transport_peer *peers;
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
        blob_unref(m->packet);
        blob_unref(m->frame);
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

static const char *inproc_public_key(transport *t) {
    (void)t;
    return NULL;
}

static struct inproc_endpoint *endpoint_at(inproc_hub *h, const char *address) {
    struct inproc_endpoint *ep = h->endpoints;
    while (ep && strcmp(ep->address, address) != 0) ep = ep->next;
    return ep;
}

static transport_peer *inproc_connect(transport *t, const char *address,
                                      const char *server_key, char *err, size_t errlen) {
    (void)server_key; /* a hub's proxies are one process: nothing to authenticate */
    inproc_tr *it = (inproc_tr *)t;
    struct inproc_endpoint *ep = endpoint_at(it->hub, address);
    if (!ep) {
        snprintf(err, errlen, "no member of this process's hub is at %s", address);
        return NULL;
    }
    transport_peer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ep->refs++;
    p->ep = ep;
    p->next = it->peers;
    if (it->peers) it->peers->prev = p;
    it->peers = p;
    return p;
}

static int inproc_reconnect(transport *t, transport_peer *p, const char *address,
                            const char *server_key, char *err, size_t errlen) {
    (void)server_key;
    inproc_tr *it = (inproc_tr *)t;
    struct inproc_endpoint *ep = endpoint_at(it->hub, address);
    if (!ep) {
        snprintf(err, errlen, "no member of this process's hub is at %s", address);
        return -1;
    }
    ep->refs++;
    endpoint_unref(p->ep);
    p->ep = ep;
    return 0;
}

static void inproc_disconnect(transport *t, transport_peer *p) {
    inproc_tr *it = (inproc_tr *)t;
    if (!p) return;
    if (p->prev) p->prev->next = p->next;
    else it->peers = p->next;
    if (p->next) p->next->prev = p->prev;
    endpoint_unref(p->ep);
    free(p);
}

/* Every message is its own packet, queued at the receiver at once: what is
 * queued has arrived, so nothing is ever unacknowledged. */
static int inproc_try_send(transport *t, transport_peer *p, const wire_header *h, blob *payload,
                           uint64_t *seq, char *err, size_t errlen) {
    inproc_tr *it = (inproc_tr *)t;
    struct inproc_endpoint *ep = p->ep;
    *seq = ++it->seq;
    if (!ep->open) return 1; /* the receiver closed: lost, as to a process that exited */
    wire_packet_head head;
    memset(&head, 0, sizeof head);
    head.group = it->cfg.group;
    head.sender = it->cfg.name;
    memcpy(head.incarnation, it->cfg.incarnation, WIRE_INCARNATION_LEN);
    head.seq = *seq;
    wire_packet_writer w;
    int apart = blob_size(payload) > 2048; /* as the network driver does */
    it->scratch.len = 0;
    inproc_msg *m = malloc(sizeof *m);
    int packed = m && wire_packet_begin(&w, &it->scratch, &head) == 0 &&
                 wire_packet_add(&w, h, blob_data(payload), blob_size(payload), apart) == 0;
    if (packed) {
        wire_packet_finish(&w);
        packed = (m->packet = blob_copy(it->scratch.data, it->scratch.len)) != NULL;
    }
    if (!packed) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->next = NULL;
    m->frame = apart ? blob_ref(payload) : NULL;
    if (ep->tail) ep->tail->next = m;
    else ep->head = m;
    ep->tail = m;
    it->hub->delivered++;
    return 1;
}

static int inproc_set_ack(transport *t, transport_peer *p, const uint8_t *incarnation,
                          uint64_t seq) {
    (void)t, (void)p, (void)incarnation, (void)seq;
    return 0;
}

static int inproc_flush(transport *t, transport_peer *p) {
    (void)t, (void)p;
    return 1;
}

static void inproc_acked(transport *t, transport_peer *p, uint64_t seq) {
    (void)t, (void)p, (void)seq;
}

static uint64_t inproc_unacked(transport *t, transport_peer *p, uint64_t *oldest) {
    (void)t, (void)p;
    if (oldest) *oldest = UINT64_MAX;
    return 0;
}

static int inproc_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    inproc_tr *it = (inproc_tr *)t;
    inproc_msg *m = it->ep->head;
    rx->packet = NULL;
    rx->n_frames = 0;
    rx->peer[0] = '\0';
    if (!m) return 0;
    it->ep->head = m->next;
    if (!m->next) it->ep->tail = NULL;
    rx->packet = m->packet;
    if (m->frame) rx->frames[rx->n_frames++] = m->frame;
    free(m);
    /* As ZeroMQ's ZMQ_MAXMSGSIZE does on the network. */
    long long max = it->cfg.max_message_size;
    size_t big = blob_size(rx->packet);
    if (rx->n_frames && blob_size(rx->frames[0]) > big) big = blob_size(rx->frames[0]);
    if (max >= 0 && big > (unsigned long long)max) {
        transport_rx_free(rx);
        snprintf(err, errlen, "a frame of %zu bytes (max_message_size is %lld)", big, max);
        return -1;
    }
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
    while (it->peers) inproc_disconnect(t, it->peers);
    if (it->ep) {
        it->ep->open = 0;
        endpoint_drain(it->ep);
        endpoint_unlink(it->hub, it->ep);
        endpoint_unref(it->ep);
    }
    buf_free(&it->scratch);
    inproc_hub_unref(it->hub);
    free(it);
}

static const struct transport_ops inproc_ops = {
    inproc_address, inproc_public_key, inproc_connect, inproc_reconnect, inproc_disconnect,
    inproc_try_send,
    inproc_set_ack, inproc_flush,   inproc_acked,     inproc_unacked,    inproc_try_recv,
    inproc_wait,    inproc_close};

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
    snprintf(it->group, sizeof it->group, "%.*s", (int)cfg->group.len, cfg->group.ptr);
    snprintf(it->name, sizeof it->name, "%.*s", (int)cfg->name.len, cfg->name.ptr);
    it->cfg.group = (wire_slice){it->group, strlen(it->group)};
    it->cfg.name = (wire_slice){it->name, strlen(it->name)};
    buf_init(&it->scratch);
    ep->refs = 1;
    ep->open = 1;
    snprintf(ep->address, sizeof ep->address, "inproc://%lu/%lu", hub->id, ++hub->next_endpoint);
    ep->next = hub->endpoints;
    hub->endpoints = ep;
    it->ep = ep;
    return &it->base;
}
