/* zmq.c: the ZeroMQ transport driver. Each transport has its own context, a
 * PULL socket bound on an ephemeral TCP port, and a PUSH socket per peer.
 * PUSH queues up to the high-water mark and then refuses (we send with
 * ZMQ_DONTWAIT and let the proxy wait), so nothing is silently dropped the
 * way PUB/SUB drops. */
#include "transport/transport.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Payloads up to this size are copied: a zero-copy message costs two
 * allocations and an atomic count, more than a small memcpy. */
#define ZMQDRV_COPY_BELOW 2048

typedef struct zmqdrv {
    transport base;
    void *ctx, *pull;
    zmq_msg_t header; /* the last header received, lent to the caller */
    transport_config cfg;
    char address[300];
} zmqdrv;

struct transport_peer {
    void *push;
};

static void set_int(void *sock, int opt, int value) { zmq_setsockopt(sock, opt, &value, sizeof value); }

static const char *zmqdrv_address(transport *t) { return ((zmqdrv *)t)->address; }

static transport_peer *zmqdrv_connect(transport *t, const char *address, char *err,
                                      size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    transport_peer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->push = zmq_socket(z->ctx, ZMQ_PUSH);
    if (!p->push) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        free(p);
        return NULL;
    }
    set_int(p->push, ZMQ_LINGER, z->cfg.linger_ms);
    set_int(p->push, ZMQ_SNDHWM, z->cfg.send_hwm);
    set_int(p->push, ZMQ_IPV6, 1);
    if (zmq_connect(p->push, address) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", address, zmq_strerror(errno));
        zmq_close(p->push);
        free(p);
        return NULL;
    }
    return p;
}

static void zmqdrv_disconnect(transport *t, transport_peer *p, int discard) {
    (void)t;
    if (!p) return;
    if (discard) set_int(p->push, ZMQ_LINGER, 0);
    zmq_close(p->push); /* queued messages keep going out for the linger time */
    free(p);
}

static void unref_blob(void *data, void *hint) {
    (void)data;
    blob_unref(hint);
}

static int zmqdrv_try_send(transport *t, transport_peer *p, const char *header, size_t header_len,
                           blob *payload, char *err, size_t errlen) {
    (void)t;
    zmq_msg_t m;
    zmq_msg_init_size(&m, header_len);
    memcpy(zmq_msg_data(&m), header, header_len);
    if (zmq_msg_send(&m, p->push, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        if (e == EAGAIN || e == EINTR) return 0;
        snprintf(err, errlen, "send failed: %s", zmq_strerror(e));
        return -1;
    }
    size_t n = blob_size(payload);
    if (n < ZMQDRV_COPY_BELOW) {
        zmq_msg_init_size(&m, n);
        memcpy(zmq_msg_data(&m), blob_data(payload), n);
    } else {
        blob_ref(payload);
        if (zmq_msg_init_data(&m, (void *)blob_data(payload), n, unref_blob, payload) != 0) {
            blob_unref(payload);
            zmq_msg_init_size(&m, n);
            memcpy(zmq_msg_data(&m), blob_data(payload), n);
        }
    }
    /* Once the first frame is queued the rest of the message cannot be
     * refused, so this send does not wait. */
    if (zmq_msg_send(&m, p->push, 0) < 0) {
        zmq_msg_close(&m);
        snprintf(err, errlen, "send failed: %s", zmq_strerror(errno));
        return -1;
    }
    return 1;
}

static void close_heap_msg(void *ctx) {
    zmq_msg_close(ctx);
    free(ctx);
}

/* Keeps a frame as a blob: copied when small, else the ZeroMQ buffer itself. */
static blob *frame_blob(zmq_msg_t *m) {
    size_t n = zmq_msg_size(m);
    if (n < ZMQDRV_COPY_BELOW) {
        blob *b = blob_copy(zmq_msg_data(m), n);
        zmq_msg_close(m);
        return b;
    }
    zmq_msg_t *held = malloc(sizeof *held);
    if (!held) {
        zmq_msg_close(m);
        return NULL;
    }
    zmq_msg_init(held);
    zmq_msg_move(held, m);
    blob *b = blob_wrap(zmq_msg_data(held), n, close_heap_msg, held);
    if (!b) close_heap_msg(held);
    return b;
}

static int zmqdrv_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_msg_t *h = &z->header, p;
    zmq_msg_close(h);
    zmq_msg_init(h);
    if (zmq_msg_recv(h, z->pull, ZMQ_DONTWAIT) < 0) return 0; /* EAGAIN, or EINTR: nothing now */
    if (!zmq_msg_more(h)) {
        snprintf(err, errlen, "a message of 1 frame (expected 2: header, payload)");
        return -1;
    }
    zmq_msg_init(&p);
    zmq_msg_recv(&p, z->pull, 0); /* the parts of a message arrive together */
    if (zmq_msg_more(&p)) {
        int frames = 2;
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        do {
            if (zmq_msg_recv(&extra, z->pull, 0) < 0) break;
            frames++;
        } while (zmq_msg_more(&extra));
        zmq_msg_close(&extra);
        zmq_msg_close(&p);
        snprintf(err, errlen, "a message of %d frames (expected 2: header, payload)", frames);
        return -1;
    }
    rx->header = zmq_msg_data(h);
    rx->header_len = zmq_msg_size(h);
    rx->payload = frame_blob(&p);
    if (!rx->payload) {
        snprintf(err, errlen, "out of memory for a received message");
        return -1;
    }
    return 1;
}

static int zmqdrv_wait(transport *t, int readable, transport_peer *writable, transport_fd *fds,
                       int nfds, double timeout) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_pollitem_t items[10];
    int at[8], n = 0, out_at = -1, seen = 0;
    /* Polled even when not wanted, but with no events: keeps the indexes simple. */
    items[n++] = (zmq_pollitem_t){z->pull, 0, readable ? ZMQ_POLLIN : 0, 0};
    if (writable) {
        out_at = n;
        items[n++] = (zmq_pollitem_t){writable->push, 0, ZMQ_POLLOUT, 0};
    }
    if (nfds > 8) nfds = 8;
    for (int i = 0; i < nfds; i++) {
        fds[i].ready = 0;
        at[i] = -1;
        if (fds[i].fd < 0) continue;
        at[i] = n;
        items[n++] = (zmq_pollitem_t){NULL, fds[i].fd, ZMQ_POLLIN, 0};
    }
    long ms = timeout < 0 ? -1 : (long)ceil(timeout * 1000.0);
    if (zmq_poll(items, n, ms) <= 0) return 0;
    if (items[0].revents & ZMQ_POLLIN) seen |= TRANSPORT_READABLE;
    if (out_at >= 0 && (items[out_at].revents & ZMQ_POLLOUT)) seen |= TRANSPORT_WRITABLE;
    for (int i = 0; i < nfds; i++)
        if (at[i] >= 0 && (items[at[i]].revents & ZMQ_POLLIN)) {
            fds[i].ready = 1;
            seen |= TRANSPORT_FD;
        }
    return seen;
}

static void zmqdrv_close(transport *t) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_msg_close(&z->header);
    if (z->pull) zmq_close(z->pull);
    /* Every PUSH socket was closed by disconnect; their linger bounds this. */
    if (z->ctx)
        while (zmq_ctx_term(z->ctx) != 0 && errno == EINTR) {
        }
    free(z);
}

static const struct transport_ops zmqdrv_ops = {
    zmqdrv_address, zmqdrv_connect, zmqdrv_disconnect, zmqdrv_try_send,
    zmqdrv_try_recv, zmqdrv_wait,   zmqdrv_close};

transport *zmqdrv_open(const transport_config *cfg, char *err, size_t errlen) {
    zmqdrv *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->base.ops = &zmqdrv_ops;
    z->cfg = *cfg;
    zmq_msg_init(&z->header);
    z->ctx = zmq_ctx_new();
    if (z->ctx) z->pull = zmq_socket(z->ctx, ZMQ_PULL);
    if (!z->pull) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        zmqdrv_close(&z->base);
        return NULL;
    }
    set_int(z->pull, ZMQ_LINGER, 0);
    set_int(z->pull, ZMQ_RCVHWM, cfg->recv_hwm);
    set_int(z->pull, ZMQ_IPV6, 1);
    zmq_setsockopt(z->pull, ZMQ_MAXMSGSIZE, &cfg->max_message_size, sizeof(int64_t));
    char bind[300], bound[300];
    const char *bh = cfg->bind_host && *cfg->bind_host ? cfg->bind_host : "*";
    int v6 = strchr(bh, ':') != NULL;
    snprintf(bind, sizeof bind, v6 ? "tcp://[%s]:*" : "tcp://%s:*", bh);
    size_t blen = sizeof bound;
    if (zmq_bind(z->pull, bind) != 0 ||
        zmq_getsockopt(z->pull, ZMQ_LAST_ENDPOINT, bound, &blen) != 0) {
        snprintf(err, errlen, "cannot bind the receiving socket on %s: %s", bind,
                 zmq_strerror(errno));
        zmqdrv_close(&z->base);
        return NULL;
    }
    const char *colon = strrchr(bound, ':'); /* the port ZeroMQ chose */
    const char *ah = cfg->advertised_host;
    v6 = strchr(ah, ':') != NULL;
    snprintf(z->address, sizeof z->address, v6 ? "tcp://[%s]%s" : "tcp://%s%s", ah,
             colon ? colon : ":0");
    return &z->base;
}

int zmqdrv_debug_send(const char *address, const char *const *frames, const size_t *sizes,
                      int n, char *err, size_t errlen) {
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_PUSH) : NULL;
    int rc = -1;
    if (!s) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    } else {
        set_int(s, ZMQ_LINGER, 5000);
        set_int(s, ZMQ_IPV6, 1);
        if (zmq_connect(s, address) != 0) {
            snprintf(err, errlen, "cannot connect to %s: %s", address, zmq_strerror(errno));
        } else {
            rc = 0;
            for (int i = 0; i < n && rc == 0; i++)
                if (zmq_send(s, frames[i], sizes[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
                    snprintf(err, errlen, "send failed: %s", zmq_strerror(errno));
                    rc = -1;
                }
        }
        zmq_close(s);
    }
    if (ctx)
        while (zmq_ctx_term(ctx) != 0 && errno == EINTR) {
        }
    return rc;
}
