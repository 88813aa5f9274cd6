/* zmq.c: the ZeroMQ transport driver. Each transport has its own context, a
 * PULL socket bound on an ephemeral TCP port, and a PUSH socket per peer.
 * PUSH queues up to the high-water mark and then refuses (we send with
 * ZMQ_DONTWAIT and let the proxy wait), so nothing is silently dropped the
 * way PUB/SUB drops.
 *
 * Batches (docs/protocol.md, "Batches"): ZeroMQ's cost is per frame, and
 * small messages streamed to a peer cost it several times what their bytes
 * do. A small message that follows the previous one to the same peer within
 * BATCH_STREAM_GAP joins a batch, a single frame, instead of going out as two
 * frames. A batch leaves when it is full, when the proxy is about to wait,
 * and at the latest BATCH_DELAY after it began: a thread of the transport
 * (the flusher) sends it then, whatever the script is doing. A message with
 * nothing sent to its peer just before it goes out at once, as two frames,
 * so request/reply pays no delay. The PUSH sockets and the batches are
 * shared with the flusher under `lock`; the PULL socket is the main
 * thread's alone. */
#include "transport/transport.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "wire/batch.h"

/* Payloads up to this size are copied: a zero-copy message costs two
 * allocations and an atomic count, more than a small memcpy. */
#define ZMQDRV_COPY_BELOW 2048

#define BATCH_ITEM_MAX 1024        /* header + payload bytes of a message that may join a batch */
#define BATCH_MESSAGES 256         /* a batch this long leaves at once... */
#define BATCH_BYTES (64 * 1024)     /* ...and so does one this big (at most max_message_size) */
#define BATCH_STREAM_GAP 50e-6     /* seconds since the last message or batch to the peer */
#define BATCH_DELAY 200e-6         /* the longest a batch waits */
#define BATCH_QUIET 10e-3          /* the flusher sleeps after this long without batches */

typedef struct zmqdrv {
    transport base;
    void *ctx, *pull;
    zmq_msg_t header; /* the last frame received; a header or batch is lent from it */
    int in_batch;     /* header holds a batch not read to its end */
    wire_batch batch;
    transport_config cfg;
    size_t batch_bytes; /* the largest batch; 0: none fits under max_message_size */
    char address[300];
    pthread_mutex_t lock; /* PUSH sockets, batches, peers, oldest, stop */
    pthread_cond_t wake;  /* the flusher: a batch began, or stop */
    pthread_t flusher;
    int flusher_running, flusher_idle, stop;
    double oldest;     /* when the oldest waiting batch began; 0: none waits */
    double last_batch; /* when the last batch began */
    transport_peer *peers;
} zmqdrv;

struct transport_peer {
    void *push;
    buf batch;        /* header and payload items of the messages waiting */
    int batched;      /* how many messages batch holds */
    double last_sent; /* when the last message or batch to this peer was taken */
    transport_peer *prev, *next;
};

static void set_int(void *sock, int opt, int value) { zmq_setsockopt(sock, opt, &value, sizeof value); }

static const char *zmqdrv_address(transport *t) { return ((zmqdrv *)t)->address; }

/* ---- sending ------------------------------------------------------------ */

/* Sends p's batch as one frame. 1 sent (or nothing to send), 0 the peer's
 * queue is full (the batch stays), -1 with errno on any other failure. */
static int flush_peer(transport_peer *p) {
    if (!p->batched) return 1;
    wire_batch_finish(&p->batch, (uint32_t)p->batched);
    if (zmq_send(p->push, p->batch.data, p->batch.len, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    p->batch.len = 0;
    p->batched = 0;
    p->last_sent = clock_now();
    return 1;
}

/* Sends every batch that can go; called with the lock held. */
static void flush_all(zmqdrv *z) {
    int waiting = 0;
    for (transport_peer *p = z->peers; p; p = p->next)
        if (flush_peer(p) == 0) waiting = 1; /* a full queue: the next flush tries again */
    z->oldest = waiting ? clock_now() : 0;
}

/* While batches are being made the flusher wakes every BATCH_DELAY on its
 * own; only a batch that begins after a quiet spell wakes it, so a stream of
 * batches costs the sending thread no wake-ups. */
static void *flusher_main(void *arg) {
    zmqdrv *z = arg;
    pthread_mutex_lock(&z->lock);
    while (!z->stop) {
        double now = clock_now();
        if (z->oldest == 0 && now - z->last_batch > BATCH_QUIET) {
            z->flusher_idle = 1;
            pthread_cond_wait(&z->wake, &z->lock);
            z->flusher_idle = 0;
            continue;
        }
        double due = (z->oldest ? z->oldest : now) + BATCH_DELAY;
        if (now < due) {
            struct timespec until = clock_timespec(due);
            pthread_cond_timedwait(&z->wake, &z->lock, &until);
            continue;
        }
        flush_all(z);
    }
    pthread_mutex_unlock(&z->lock);
    return NULL;
}

/* Called with the lock held when a batch begins. Without a flusher the
 * batch still leaves when full or when the proxy waits. */
static void batch_began(zmqdrv *z, double now) {
    if (!z->flusher_running) {
        /* SIGINT and SIGTERM belong to the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        z->flusher_running = pthread_create(&z->flusher, NULL, flusher_main, z) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    z->last_batch = now;
    if (z->oldest == 0) z->oldest = now;
    if (z->flusher_idle) pthread_cond_signal(&z->wake);
}

static int batch_add(transport_peer *p, const char *header, size_t header_len, blob *payload) {
    size_t need = header_len + blob_size(payload) + (p->batched ? 0 : WIRE_BATCH_PREFIX);
    if (p->batch.cap - p->batch.len < need && buf_grow(&p->batch, need) != 0) {
        p->batch.failed = 0; /* the batch is intact: a later message may try again */
        return -1;
    }
    if (!p->batched) wire_batch_begin(&p->batch);
    buf_append(&p->batch, header, header_len);
    buf_append(&p->batch, blob_data(payload), blob_size(payload));
    p->batched++;
    return 0;
}

static void unref_blob(void *data, void *hint) {
    (void)data;
    blob_unref(hint);
}

/* One message as two frames (header, payload): 1 sent, 0 full, -1 failed. */
static int send_frames(transport_peer *p, const char *header, size_t header_len, blob *payload,
                       char *err, size_t errlen) {
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

static int send_locked(zmqdrv *z, transport_peer *p, const char *header, size_t header_len,
                       blob *payload, char *err, size_t errlen) {
    size_t n = header_len + blob_size(payload);
    int small = n <= BATCH_ITEM_MAX;
    if (p->batched) {
        /* No clock here: a batch that leaves notes the time for the next one. */
        if (small && p->batched < BATCH_MESSAGES && p->batch.len + n <= z->batch_bytes) {
            if (batch_add(p, header, header_len, payload) != 0) goto oom;
            if (p->batched == BATCH_MESSAGES || p->batch.len + BATCH_ITEM_MAX > z->batch_bytes)
                flush_peer(p); /* a full queue keeps it for later */
            return 1;
        }
        /* What is batched goes first, so that order holds. */
        int rc = flush_peer(p);
        if (rc <= 0) {
            if (rc < 0) snprintf(err, errlen, "send failed: %s", zmq_strerror(errno));
            return rc;
        }
    }
    double now = clock_now();
    if (small && z->batch_bytes && now - p->last_sent < BATCH_STREAM_GAP) {
        if (batch_add(p, header, header_len, payload) != 0) goto oom;
        p->last_sent = now;
        batch_began(z, now);
        return 1;
    }
    int rc = send_frames(p, header, header_len, payload, err, errlen);
    if (rc > 0) p->last_sent = now;
    return rc;
oom:
    snprintf(err, errlen, "out of memory while batching a message");
    return -1;
}

static int zmqdrv_try_send(transport *t, transport_peer *p, const char *header, size_t header_len,
                           blob *payload, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    int rc = send_locked(z, p, header, header_len, payload, err, errlen);
    pthread_mutex_unlock(&z->lock);
    return rc;
}

/* ---- peers --------------------------------------------------------------- */

static transport_peer *zmqdrv_connect(transport *t, const char *address, char *err,
                                      size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    transport_peer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    buf_init(&p->batch);
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
    pthread_mutex_lock(&z->lock);
    p->next = z->peers;
    if (z->peers) z->peers->prev = p;
    z->peers = p;
    pthread_mutex_unlock(&z->lock);
    return p;
}

static void zmqdrv_disconnect(transport *t, transport_peer *p, int discard) {
    zmqdrv *z = (zmqdrv *)t;
    if (!p) return;
    pthread_mutex_lock(&z->lock);
    if (p->prev) p->prev->next = p->next;
    else z->peers = p->next;
    if (p->next) p->next->prev = p->prev;
    if (discard) {
        set_int(p->push, ZMQ_LINGER, 0);
    } else if (flush_peer(p) == 0) {
        /* A full queue: the batch may wait for room as long as the linger. */
        set_int(p->push, ZMQ_SNDTIMEO, z->cfg.linger_ms);
        if (zmq_send(p->push, p->batch.data, p->batch.len, 0) < 0)
            log_warn("closing a connection with a full queue: %d batched message%s did not "
                     "leave within the linger (%d ms) and are lost", p->batched,
                     p->batched == 1 ? "" : "s", z->cfg.linger_ms);
    }
    zmq_close(p->push); /* queued messages keep going out for the linger time */
    pthread_mutex_unlock(&z->lock);
    buf_free(&p->batch);
    free(p);
}

/* ---- receiving ----------------------------------------------------------- */

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

/* The next message of the batch in z->header: 1, 0 at its end, -1 when the
 * rest of it cannot be read. */
static int next_in_batch(zmqdrv *z, transport_rx *rx, char *err, size_t errlen) {
    wire_slice h, pl;
    int rc = wire_batch_next(&z->batch, &h, &pl, err, errlen);
    if (rc <= 0) {
        z->in_batch = 0;
        return rc;
    }
    rx->header = h.ptr;
    rx->header_len = h.len;
    rx->payload = blob_copy(pl.ptr, pl.len);
    if (!rx->payload) {
        snprintf(err, errlen, "out of memory for a received message");
        return -1;
    }
    return 1;
}

static int zmqdrv_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    if (z->in_batch) {
        int rc = next_in_batch(z, rx, err, errlen);
        if (rc != 0) return rc;
    }
    zmq_msg_t *h = &z->header, p;
    zmq_msg_close(h);
    zmq_msg_init(h);
    if (zmq_msg_recv(h, z->pull, ZMQ_DONTWAIT) < 0) return 0; /* EAGAIN, or EINTR: nothing now */
    if (!zmq_msg_more(h)) {
        if (wire_batch_open(&z->batch, zmq_msg_data(h), zmq_msg_size(h), err, errlen) != 0)
            return -1;
        z->in_batch = 1;
        return next_in_batch(z, rx, err, errlen);
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
        snprintf(err, errlen, "a message of %d frames (expected 1, a batch, or 2: header, "
                 "payload)", frames);
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

/* ---- waiting ------------------------------------------------------------- */

static int zmqdrv_wait(transport *t, int readable, transport_peer *writable, transport_fd *fds,
                       int nfds, double timeout) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_pollitem_t items[10];
    int at[8], n = 0, out_at = -1, seen = 0;
    /* Nothing batched waits while this thread waits. */
    pthread_mutex_lock(&z->lock);
    flush_all(z);
    /* A PUSH socket polled here must not be used by the flusher meanwhile. */
    if (!writable) pthread_mutex_unlock(&z->lock);
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
    /* The rest of a batch is read already: readable without a look. */
    if (readable && z->in_batch) {
        seen |= TRANSPORT_READABLE;
        timeout = 0;
    }
    long ms = timeout < 0 ? -1 : (long)ceil(timeout * 1000.0);
    int polled = zmq_poll(items, n, ms);
    if (writable) pthread_mutex_unlock(&z->lock);
    if (polled <= 0) return seen;
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
    if (z->flusher_running) {
        pthread_mutex_lock(&z->lock);
        z->stop = 1;
        pthread_cond_signal(&z->wake);
        pthread_mutex_unlock(&z->lock);
        pthread_join(z->flusher, NULL);
    }
    zmq_msg_close(&z->header);
    if (z->pull) zmq_close(z->pull);
    /* Every PUSH socket was closed by disconnect; their linger bounds this. */
    if (z->ctx)
        while (zmq_ctx_term(z->ctx) != 0 && errno == EINTR) {
        }
    pthread_cond_destroy(&z->wake);
    pthread_mutex_destroy(&z->lock);
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
    z->batch_bytes = BATCH_BYTES;
    if (cfg->max_message_size > 0 && (long long)z->batch_bytes > cfg->max_message_size)
        z->batch_bytes = (size_t)cfg->max_message_size; /* a peer would refuse more */
    if (z->batch_bytes < WIRE_BATCH_PREFIX + BATCH_ITEM_MAX) z->batch_bytes = 0; /* no batches */
    pthread_mutex_init(&z->lock, NULL);
    clock_cond_init(&z->wake);
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
