/* zmq_out.c: what the ZeroMQ driver sends to a peer. Every transmission is
 * a packet (wire/packet.h), numbered, and noted in the peer's inflight
 * list until the peer acknowledges it.
 *
 * Batches: ZeroMQ's cost is per frame, and small messages streamed to a
 * peer cost it several times what their bytes do. A small message to a
 * peer that already got one since the proxy last waited joins the peer's
 * open packet (a batch) instead of going out alone. A batch leaves when it
 * is full and when the proxy is about to wait; a thread of the transport
 * (the flusher) sends it meanwhile, whatever the script is doing, once the
 * script has added nothing to it for BATCH_PAUSE, and at the latest
 * BATCH_DELAY after it began. The first message to a peer after a wait
 * goes out at once, so request and reply pay no delay. (Joining counts
 * waits, not time: it batches the same way however slow the machine is.)
 * PUSH sockets, batches and packet numbers are shared with the flusher
 * under z->lock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/clock.h"
#include "base/log.h"
#include "transport/zmq_impl.h"

/* Payloads up to this size travel inside the packet (copied); larger ones
 * as an extra frame handed to ZeroMQ without a copy, which costs two
 * allocations and an atomic count: more than a small memcpy. */
#define INLINE_PAYLOAD_MAX 2048
#define BATCH_ITEM_MAX 1024    /* names and payload of a message that may join a batch */
#define BATCH_MESSAGES 256     /* a batch this long leaves at once... */
#define BATCH_BYTES (64 * 1024) /* ...and so does one this big (at most max_message_size) */
#define BATCH_PAUSE 200e-6     /* a batch nothing joined for this long leaves... */
#define BATCH_DELAY 1e-3       /* ...and none waits longer than this */
#define BATCH_QUIET 10e-3      /* the flusher sleeps after this long without batches */

static void unref_blob(void *data, void *hint) {
    (void)data;
    blob_unref(hint);
}

static void head_for(zmqdrv *z, transport_peer *p, uint64_t seq, int ack, wire_packet_head *h) {
    memset(h, 0, sizeof *h);
    h->group = z->cfg.group;
    h->sender = z->cfg.name;
    memcpy(h->incarnation, z->cfg.incarnation, WIRE_INCARNATION_LEN);
    h->seq = seq;
    if (ack) {
        h->has_ack = 1;
        memcpy(h->ack_incarnation, p->ack_incarnation, WIRE_INCARNATION_LEN);
        h->ack_seq = p->ack_seq;
    }
}

/* Sends the packet in p->out [start, end) and, if given, a payload frame
 * after it: 1 sent, 0 the queue is full (nothing was sent), -1 failed. */
static int send_transmission(transport_peer *p, size_t start, blob *payload) {
    size_t len = p->out.len - start;
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) != 0) return -1;
    memcpy(zmq_msg_data(&m), p->out.data + start, len);
    if (zmq_msg_send(&m, p->push, ZMQ_DONTWAIT | (payload ? ZMQ_SNDMORE : 0)) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        errno = e;
        return e == EAGAIN || e == EINTR ? 0 : -1;
    }
    if (!payload) return 1;
    blob_ref(payload);
    if (zmq_msg_init_data(&m, (void *)blob_data(payload), blob_size(payload), unref_blob,
                          payload) != 0) {
        blob_unref(payload);
        zmq_msg_init_size(&m, blob_size(payload));
        memcpy(zmq_msg_data(&m), blob_data(payload), blob_size(payload));
    }
    /* Once the first frame is queued the rest cannot be refused. */
    if (zmq_msg_send(&m, p->push, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 1;
}

/* Notes a packet that left: in the inflight list (with copies to send
 * again when the driver retains), and its acknowledgement as sent. */
static void sent(zmqdrv *z, transport_peer *p, uint64_t seq, uint32_t messages, size_t start,
                 blob *payload, int carried_ack, uint64_t ack_seq) {
    if (carried_ack && p->ack_seq == ack_seq) p->ack_pending = 0;
    if (messages == 0) return;
    blob *packet = NULL, *kept = NULL;
    if (z->cfg.retain) {
        packet = blob_copy(p->out.data + start, p->out.len - start);
        kept = payload ? blob_ref(payload) : NULL;
    }
    unsigned long held;
    if (inflight_push(&p->sent, seq, messages, packet, kept) != 0 &&
        log_limiter_pass(&z->oom_lim, 5.0, &held))
        log_warn("out of memory: a packet sent is not followed until acknowledged (%lu more "
                 "held back)", held);
}

/* Sends p's open batch, or an acknowledgement alone: 1 nothing left
 * waiting, 0 the queue is full (they stay), -1 with errno on failure. */
static int flush_peer(zmqdrv *z, transport_peer *p) {
    if (p->batched) {
        wire_packet_finish(&p->writer);
        int rc = send_transmission(p, 0, NULL);
        if (rc <= 0) return rc;
        sent(z, p, p->batch_seq, (uint32_t)p->batched, 0, NULL, p->batch_acks, p->batch_ack_seq);
        p->out.len = 0;
        p->batched = 0;
    }
    if (!p->ack_pending) return 1;
    wire_packet_head h;
    head_for(z, p, 0, 1, &h);
    p->out.len = 0;
    if (wire_packet_begin(&p->writer, &p->out, &h) != 0) return -1;
    wire_packet_finish(&p->writer);
    int rc = send_transmission(p, 0, NULL);
    if (rc > 0) sent(z, p, 0, 0, 0, NULL, 1, h.ack_seq);
    p->out.len = 0;
    return rc;
}

void zmqdrv_flush_all(zmqdrv *z) {
    int waiting = 0;
    for (transport_peer *p = z->peers; p; p = p->next)
        if (p->batched && flush_peer(z, p) == 0) waiting = 1;
    z->due = waiting ? clock_now() + BATCH_PAUSE : 0; /* a full queue: tried again later */
}

/* Sends the batches that are due, and sets when the flusher looks again.
 * A batch that grew since the last look is left to grow (a stream that
 * fills batches faster than BATCH_DELAY sends them full, itself), one
 * that did not is sent: the script stopped streaming to that peer. */
static void flush_due(zmqdrv *z, double now) {
    double next = 0;
    for (transport_peer *p = z->peers; p; p = p->next) {
        if (!p->batched) continue;
        double age = now - p->batch_began, at;
        if (age >= BATCH_DELAY || (age >= BATCH_PAUSE && p->batched == p->batch_seen)) {
            if (flush_peer(z, p) != 0) continue;
            at = now + BATCH_PAUSE; /* a full queue */
        } else {
            if (age >= BATCH_PAUSE) p->batch_seen = p->batched;
            at = age < BATCH_PAUSE ? p->batch_began + BATCH_PAUSE : now + BATCH_PAUSE;
            if (at > p->batch_began + BATCH_DELAY) at = p->batch_began + BATCH_DELAY;
        }
        if (next == 0 || at < next) next = at;
    }
    z->due = next;
}

/* While batches are being made the flusher wakes every BATCH_PAUSE on its
 * own; only a batch that begins after a quiet spell wakes it, so a stream of
 * batches costs the sending thread no wake-ups. */
static void *flusher_main(void *arg) {
    zmqdrv *z = arg;
    pthread_mutex_lock(&z->lock);
    while (!z->stop) {
        double now = clock_now();
        if (z->due == 0 && now - z->last_batch > BATCH_QUIET) {
            z->flusher_idle = 1;
            pthread_cond_wait(&z->wake, &z->lock);
            z->flusher_idle = 0;
            continue;
        }
        double due = z->due ? z->due : now + BATCH_PAUSE;
        if (now < due) {
            struct timespec until = clock_timespec(due);
            pthread_cond_timedwait(&z->wake, &z->lock, &until);
            continue;
        }
        flush_due(z, now);
    }
    pthread_mutex_unlock(&z->lock);
    return NULL;
}

/* Called with the lock held when a batch begins. Without a flusher the
 * batch still leaves when full or when the proxy waits. */
static void batch_began(zmqdrv *z, double now) {
    if (!z->flusher_running) {
        /* Signals belong to the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        z->flusher_running = pthread_create(&z->flusher, NULL, flusher_main, z) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    z->last_batch = now;
    if (z->due == 0) z->due = now + BATCH_PAUSE;
    if (z->flusher_idle) pthread_cond_signal(&z->wake);
}

void zmqdrv_stop_flusher(zmqdrv *z) {
    if (!z->flusher_running) return;
    pthread_mutex_lock(&z->lock);
    z->stop = 1;
    pthread_cond_signal(&z->wake);
    pthread_mutex_unlock(&z->lock);
    pthread_join(z->flusher, NULL);
    z->flusher_running = 0;
}

static size_t names_size(const wire_header *h) {
    return h->tag.len + h->source.len + h->destination.len + h->session_id.len +
           h->message_id.len + (h->error.ptr ? h->error.len : 0);
}

static int oom(char *err, size_t errlen) {
    snprintf(err, errlen, "out of memory while packing a message");
    return -1;
}

static int send_locked(zmqdrv *z, transport_peer *p, const wire_header *h, blob *payload,
                       uint64_t *seq, char *err, size_t errlen) {
    size_t n = names_size(h) + blob_size(payload);
    int small = n <= BATCH_ITEM_MAX;
    if (p->batched) {
        /* No clock here: a batch that leaves notes the time for the next one. */
        if (small && p->batched < BATCH_MESSAGES && p->out.len + n + 64 <= z->batch_bytes) {
            if (wire_packet_add(&p->writer, h, blob_data(payload), blob_size(payload), 0) != 0)
                return oom(err, errlen);
            p->batched++;
            *seq = p->batch_seq;
            if (p->batched == BATCH_MESSAGES || p->out.len + BATCH_ITEM_MAX + 64 > z->batch_bytes)
                flush_peer(z, p); /* a full queue keeps it for later */
            return 1;
        }
        /* What is batched goes first, so that order holds. */
        int rc = flush_peer(z, p);
        if (rc <= 0) {
            if (rc < 0) snprintf(err, errlen, "send failed: %s", zmq_strerror(errno));
            return rc;
        }
    }
    wire_packet_head head;
    int ack = p->ack_pending, streaming = p->sent_since_wait == z->waits + 1;
    p->sent_since_wait = z->waits + 1;
    head_for(z, p, z->seq + 1, ack, &head);
    p->out.len = 0;
    if (wire_packet_begin(&p->writer, &p->out, &head) != 0) return oom(err, errlen);
    if (small && z->batch_bytes && streaming) {
        if (wire_packet_add(&p->writer, h, blob_data(payload), blob_size(payload), 0) != 0)
            return oom(err, errlen);
        *seq = p->batch_seq = ++z->seq;
        p->batched = 1;
        p->batch_acks = ack;
        p->batch_ack_seq = head.ack_seq;
        p->batch_began = clock_now();
        p->batch_seen = 1;
        batch_began(z, p->batch_began);
        return 1;
    }
    int frame = blob_size(payload) > INLINE_PAYLOAD_MAX;
    if (wire_packet_add(&p->writer, h, blob_data(payload), blob_size(payload), frame) != 0)
        return oom(err, errlen);
    wire_packet_finish(&p->writer);
    int rc = send_transmission(p, 0, frame ? payload : NULL);
    if (rc > 0) {
        *seq = ++z->seq;
        sent(z, p, *seq, 1, 0, frame ? payload : NULL, ack, head.ack_seq);
    } else if (rc < 0) {
        snprintf(err, errlen, "send failed: %s", zmq_strerror(errno));
    }
    p->out.len = 0;
    return rc;
}

int zmqdrv_try_send(transport *t, transport_peer *p, const wire_header *h, blob *payload,
                    uint64_t *seq, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    int rc = send_locked(z, p, h, payload, seq, err, errlen);
    pthread_mutex_unlock(&z->lock);
    return rc;
}

int zmqdrv_set_ack(transport *t, transport_peer *p, const uint8_t *incarnation, uint64_t seq) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    int waiting = p->ack_pending;
    memcpy(p->ack_incarnation, incarnation, WIRE_INCARNATION_LEN);
    p->ack_seq = seq;
    p->ack_pending = 1;
    pthread_mutex_unlock(&z->lock);
    return waiting;
}

int zmqdrv_flush(transport *t, transport_peer *p) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    int rc = flush_peer(z, p);
    pthread_mutex_unlock(&z->lock);
    return rc != 0;
}

void zmqdrv_acked(transport *t, transport_peer *p, uint64_t seq) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    inflight_ack(&p->sent, seq);
    pthread_mutex_unlock(&z->lock);
}

uint64_t zmqdrv_unacked(transport *t, transport_peer *p, uint64_t *oldest) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    uint64_t n = p->sent.messages + (uint64_t)p->batched;
    if (oldest)
        *oldest = p->sent.count ? inflight_at(&p->sent, 0)->seq
                                : p->batched ? p->batch_seq : UINT64_MAX;
    pthread_mutex_unlock(&z->lock);
    return n;
}

/* ---- peers --------------------------------------------------------------- */

int zmqdrv_curve_client(zmqdrv *z, void *s, const char *server_key, char *err, size_t errlen) {
    if (!server_key || strlen(server_key) != TRANSPORT_KEY_Z85) {
        snprintf(err, errlen, "the peer registered no CURVE key (every member of a closed "
                 "group has one)");
        return -1;
    }
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, TRANSPORT_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, z->public_key, TRANSPORT_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, z->secret_key, TRANSPORT_KEY_Z85 + 1) != 0) {
        snprintf(err, errlen, "cannot set the CURVE keys of a connection: %s",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* A PUSH socket from the first context with room, opening another when all
 * are full. A context pays for its slots when it starts (libzmq's default
 * of 1023 costs 12 KiB; sized for 65535 it cost 0.7 MiB and 0.5 ms in
 * every process), so only a proxy that talks to that many peers pays for
 * more. When the process is out of files, a new context fails as well. */
static void *new_push(zmqdrv *z) {
    void *s = zmq_socket(z->ctx, ZMQ_PUSH);
    for (int i = 0; !s && errno == EMFILE && i < z->n_more_ctx; i++)
        s = zmq_socket(z->more_ctx[i], ZMQ_PUSH);
    if (s || errno != EMFILE || z->n_more_ctx == ZMQDRV_MORE_CONTEXTS) return s;
    void *ctx = zmq_ctx_new();
    if (!ctx) return NULL;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, z->cfg.sockets_per_context);
    if (!(s = zmq_socket(ctx, ZMQ_PUSH))) {
        int e = errno;
        zmq_ctx_term(ctx);
        errno = e;
        return NULL;
    }
    z->more_ctx[z->n_more_ctx++] = ctx;
    return s;
}

static void *push_socket(zmqdrv *z, const char *address, const char *server_key, int hwm,
                         char *err, size_t errlen) {
    void *s = new_push(z);
    if (!s) {
        int e = errno;
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s%s", zmq_strerror(e),
                 e == EMFILE ? " (each peer takes about 3 open files: raise this process's "
                               "limit, ulimit -n or LimitNOFILE; docs/deploy.md, \"Towards "
                               "10,000 members\")"
                             : "");
        return NULL;
    }
    /* Messages not acknowledged are counted, and kept when they may be sent
     * again: nothing needs to linger in ZeroMQ after close. */
    zmqdrv_set_int(s, ZMQ_LINGER, 0);
    zmqdrv_set_int(s, ZMQ_SNDHWM, hwm);
    zmqdrv_set_int(s, ZMQ_IPV6, 1);
    if (z->cfg.authorize && zmqdrv_curve_client(z, s, server_key, err, errlen) != 0) {
        zmq_close(s);
        return NULL;
    }
    if (zmq_connect(s, address) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", address, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

transport_peer *zmqdrv_connect(transport *t, const char *address, const char *server_key,
                               char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    transport_peer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    buf_init(&p->out);
    inflight_init(&p->sent);
    if (!(p->push = push_socket(z, address, server_key, z->cfg.send_hwm, err, errlen))) {
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

int zmqdrv_reconnect(transport *t, transport_peer *p, const char *address,
                     const char *server_key, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    pthread_mutex_lock(&z->lock);
    size_t resend = z->cfg.retain ? p->sent.count : 0;
    /* Room for what is sent again on top of the usual queue: the socket is new. */
    int hwm = z->cfg.send_hwm ? z->cfg.send_hwm + (int)resend : 0;
    void *s = push_socket(z, address, server_key, hwm, err, errlen);
    if (!s) {
        pthread_mutex_unlock(&z->lock);
        return -1;
    }
    zmq_close(p->push);
    p->push = s;
    if (!z->cfg.retain) inflight_free(&p->sent);
    for (size_t i = 0; i < resend; i++) {
        inflight_packet *e = inflight_at(&p->sent, i);
        zmq_msg_t m;
        zmq_msg_init_size(&m, blob_size(e->packet));
        memcpy(zmq_msg_data(&m), blob_data(e->packet), blob_size(e->packet));
        int more = e->payload != NULL, ok = zmq_msg_send(&m, s, ZMQ_DONTWAIT |
                                                          (more ? ZMQ_SNDMORE : 0)) >= 0;
        if (ok && more) {
            zmq_msg_init_size(&m, blob_size(e->payload));
            memcpy(zmq_msg_data(&m), blob_data(e->payload), blob_size(e->payload));
            ok = zmq_msg_send(&m, s, 0) >= 0;
        }
        if (!ok) {
            zmq_msg_close(&m);
            log_warn("sending %zu unacknowledged packets again to %s: failed at packet %zu: %s",
                     resend, address, i + 1, zmq_strerror(errno));
            break;
        }
    }
    pthread_mutex_unlock(&z->lock);
    return 0;
}

void zmqdrv_disconnect(transport *t, transport_peer *p) {
    zmqdrv *z = (zmqdrv *)t;
    if (!p) return;
    pthread_mutex_lock(&z->lock);
    if (p->prev) p->prev->next = p->next;
    else z->peers = p->next;
    if (p->next) p->next->prev = p->prev;
    zmq_close(p->push);
    pthread_mutex_unlock(&z->lock);
    buf_free(&p->out);
    inflight_free(&p->sent);
    free(p);
}
