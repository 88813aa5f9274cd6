/* zmq.c: the ZeroMQ transport driver. Each transport has its own context, a
 * PULL socket bound on an ephemeral TCP port, and a PUSH socket per peer
 * (zmq_out.c). PUSH queues up to the high-water mark and then refuses (we
 * send with ZMQ_DONTWAIT and let the proxy wait), so nothing is dropped the
 * way PUB/SUB drops. The PULL socket is the main thread's alone. In a
 * closed group the PULL socket is a CURVE server whose clients a ZAP
 * handler (zap.h) lets in. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "base/clock.h"
#include "transport/zmq_impl.h"

/* Received frames up to this size are copied; larger ones stay in
 * ZeroMQ's buffer, which a blob then owns. */
#define COPY_BELOW 2048

void zmqdrv_set_int(void *sock, int opt, int value) {
    zmq_setsockopt(sock, opt, &value, sizeof value);
}

static const char *zmqdrv_address(transport *t) { return ((zmqdrv *)t)->address; }

static const char *zmqdrv_public_key(transport *t) {
    zmqdrv *z = (zmqdrv *)t;
    return z->cfg.authorize ? z->public_key : NULL;
}

/* Who the connection a frame came over belongs to, as the ZAP handler
 * named it. */
static void note_peer(zmq_msg_t *m, char *out, size_t outlen) {
    const char *user = zmq_msg_gets(m, "User-Id");
    snprintf(out, outlen, "%s", user ? user : "");
}

/* ---- receiving ----------------------------------------------------------- */

static void close_heap_msg(void *ctx) {
    zmq_msg_close(ctx);
    free(ctx);
}

/* Keeps a frame as a blob: copied when small, else the ZeroMQ buffer itself. */
static blob *frame_blob(zmq_msg_t *m) {
    size_t n = zmq_msg_size(m);
    if (n < COPY_BELOW) {
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

void transport_rx_free(transport_rx *rx) {
    blob_unref(rx->packet);
    rx->packet = NULL;
    for (int i = 0; i < rx->n_frames; i++) blob_unref(rx->frames[i]);
    rx->n_frames = 0;
}

static int zmqdrv_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_msg_t m;
    zmq_msg_init(&m);
    rx->packet = NULL;
    rx->n_frames = 0;
    rx->peer[0] = '\0';
    if (zmq_msg_recv(&m, z->pull, ZMQ_DONTWAIT) < 0) { /* EAGAIN, or EINTR: nothing now */
        z->pull_drained = errno == EAGAIN;
        zmq_msg_close(&m);
        return 0;
    }
    z->pull_drained = 0;
    if (z->cfg.authorize) note_peer(&m, rx->peer, sizeof rx->peer);
    int more = zmq_msg_more(&m), frames = 1, oom = 0;
    rx->packet = frame_blob(&m);
    oom = rx->packet == NULL;
    /* The parts of a transmission arrive together: reading them does not wait. */
    while (more) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->pull, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (frames++ > TRANSPORT_MAX_FRAMES || oom) {
            zmq_msg_close(&m);
            continue;
        }
        if (!(rx->frames[rx->n_frames] = frame_blob(&m))) oom = 1;
        else rx->n_frames++;
    }
    if (frames > TRANSPORT_MAX_FRAMES + 1 || oom) {
        transport_rx_free(rx);
        if (oom) snprintf(err, errlen, "out of memory for a received transmission");
        else snprintf(err, errlen, "a transmission of %d frames (at most %d are read)", frames,
                      TRANSPORT_MAX_FRAMES + 1);
        return -1;
    }
    return 1;
}

/* ---- waiting ------------------------------------------------------------- */

/* Waits on pull_fd and fds with poll() itself. Only after a receive found
 * nothing: ZMQ_FD signals changes, not messages already waiting. */
static int wait_drained(zmqdrv *z, int readable, transport_fd *fds, int nfds, long ms) {
    struct pollfd items[1 + TRANSPORT_MAX_FDS];
    int at[TRANSPORT_MAX_FDS], n = 0, seen = 0;
    if (readable) items[n++] = (struct pollfd){z->pull_fd, POLLIN, 0};
    for (int i = 0; i < nfds; i++) {
        at[i] = -1;
        if (fds[i].fd < 0) continue;
        at[i] = n;
        items[n++] = (struct pollfd){fds[i].fd, POLLIN, 0};
    }
    if (poll(items, (nfds_t)n, (int)ms) <= 0) return 0;
    if (readable && items[0].revents) seen |= TRANSPORT_READABLE; /* maybe: the caller tries */
    for (int i = 0; i < nfds; i++)
        if (at[i] >= 0 && (items[at[i]].revents & POLLIN)) { /* as zmq_poll reports them */
            fds[i].ready = 1;
            seen |= TRANSPORT_FD;
        }
    return seen;
}

static int zmqdrv_wait(transport *t, int readable, transport_peer *writable, transport_fd *fds,
                       int nfds, double timeout) {
    zmqdrv *z = (zmqdrv *)t;
    zmq_pollitem_t items[2 + TRANSPORT_MAX_FDS];
    int at[TRANSPORT_MAX_FDS], n = 0, out_at = -1, seen = 0;
    /* Nothing batched and no acknowledgement waits while this thread waits. */
    pthread_mutex_lock(&z->lock);
    zmqdrv_flush_all(z);
    z->waits++;
    /* A PUSH socket polled here must not be used by the flusher meanwhile. */
    if (!writable) pthread_mutex_unlock(&z->lock);
    if (nfds > TRANSPORT_MAX_FDS) nfds = TRANSPORT_MAX_FDS;
    for (int i = 0; i < nfds; i++) fds[i].ready = 0;
    /* poll() takes an int: a wait longer than 11 days ends and is begun again. */
    long ms = timeout < 0 ? -1 : timeout > 1e6 ? 1000000000L : (long)ceil(timeout * 1000.0);
    if (!writable && (!readable || (z->pull_drained && z->pull_fd >= 0)))
        return wait_drained(z, readable, fds, nfds, ms);
    items[n++] = (zmq_pollitem_t){z->pull, 0, readable ? ZMQ_POLLIN : 0, 0};
    if (writable) {
        out_at = n;
        items[n++] = (zmq_pollitem_t){writable->push, 0, ZMQ_POLLOUT, 0};
    }
    for (int i = 0; i < nfds; i++) {
        at[i] = -1;
        if (fds[i].fd < 0) continue;
        at[i] = n;
        items[n++] = (zmq_pollitem_t){NULL, fds[i].fd, ZMQ_POLLIN, 0};
    }
    int polled = zmq_poll(items, n, ms);
    z->pull_drained = 0; /* zmq_poll may have taken ZMQ_FD's signal: receive first */
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

/* At close the last packets (acknowledgements, mostly) may take this long
 * to leave; what the proxy counted as unacknowledged is dropped anyway. */
#define CLOSE_LINGER_MS 200

static void zmqdrv_close(transport *t) {
    zmqdrv *z = (zmqdrv *)t;
    zmqdrv_stop_flusher(z);
    for (transport_peer *p = z->peers; p; p = p->next) {
        zmqdrv_flush(t, p);
        zmqdrv_set_int(p->push, ZMQ_LINGER, CLOSE_LINGER_MS);
    }
    while (z->peers) zmqdrv_disconnect(t, z->peers);
    if (z->pull) zmq_close(z->pull);
    if (z->ctx)
        while (zmq_ctx_term(z->ctx) != 0 && errno == EINTR) {
        }
    for (int i = 0; i < z->n_more_ctx; i++)
        while (zmq_ctx_term(z->more_ctx[i]) != 0 && errno == EINTR) {
        }
    zap_destroy(z->zap); /* its thread ended with the context */
    sodium_memzero(z->secret_key, sizeof z->secret_key);
    pthread_cond_destroy(&z->wake);
    pthread_mutex_destroy(&z->lock);
    free(z);
}

static const struct transport_ops zmqdrv_ops = {
    zmqdrv_address, zmqdrv_public_key, zmqdrv_connect, zmqdrv_reconnect, zmqdrv_disconnect,
    zmqdrv_try_send,
    zmqdrv_set_ack, zmqdrv_flush,   zmqdrv_acked,     zmqdrv_unacked,    zmqdrv_try_recv,
    zmqdrv_wait,    zmqdrv_close};

static int bind_pull(zmqdrv *z, const transport_config *cfg, char *err, size_t errlen) {
    char bind[300], bound[300];
    const char *bh = cfg->bind_host && *cfg->bind_host ? cfg->bind_host : "*";
    snprintf(bind, sizeof bind, strchr(bh, ':') ? "tcp://[%s]:*" : "tcp://%s:*", bh);
    size_t blen = sizeof bound;
    if (zmq_bind(z->pull, bind) != 0 ||
        zmq_getsockopt(z->pull, ZMQ_LAST_ENDPOINT, bound, &blen) != 0) {
        snprintf(err, errlen, "cannot bind the receiving socket on %s: %s", bind,
                 zmq_strerror(errno));
        return -1;
    }
    const char *colon = strrchr(bound, ':'); /* the port ZeroMQ chose */
    const char *ah = cfg->advertised_host;
    snprintf(z->address, sizeof z->address, strchr(ah, ':') ? "tcp://[%s]%s" : "tcp://%s%s", ah,
             colon ? colon : ":0");
    return 0;
}

/* A key pair for this run, the receiving socket as a CURVE server, and the
 * handler that asks who a connecting key belongs to. */
static int curve_server(zmqdrv *z, char *err, size_t errlen) {
    if (!zmq_has("curve") || zmq_curve_keypair(z->public_key, z->secret_key) != 0) {
        snprintf(err, errlen, "a closed group needs CURVE, which this libzmq lacks (Debian's "
                 "libzmq5 has it)");
        return -1;
    }
    if (!(z->zap = zap_start(z->ctx, z->cfg.authorize, z->cfg.authorize_ctx, err, errlen)))
        return -1;
    zmqdrv_set_int(z->pull, ZMQ_CURVE_SERVER, 1);
    if (zmq_setsockopt(z->pull, ZMQ_CURVE_SECRETKEY, z->secret_key, TRANSPORT_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(z->pull, ZMQ_ZAP_DOMAIN, "maro", 4) != 0) {
        snprintf(err, errlen, "cannot make the receiving socket a CURVE server: %s",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* An IPv4 address needs no IPv6 socket: with ZMQ_IPV6 set, binding also
 * lists the host's interfaces, 0.3 ms of every start. A name or "*" may
 * mean IPv6, and keeps it. */
static int ipv4_literal(const char *host) {
    struct in_addr a;
    return host && inet_pton(AF_INET, host, &a) == 1;
}

transport *zmqdrv_open(const transport_config *cfg, char *err, size_t errlen) {
    zmqdrv *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->base.ops = &zmqdrv_ops;
    z->cfg = *cfg;
    snprintf(z->group, sizeof z->group, "%.*s", (int)cfg->group.len, cfg->group.ptr);
    snprintf(z->name, sizeof z->name, "%.*s", (int)cfg->name.len, cfg->name.ptr);
    z->cfg.group = (wire_slice){z->group, strlen(z->group)};
    z->cfg.name = (wire_slice){z->name, strlen(z->name)};
    z->batch_bytes = 64 * 1024;
    if (cfg->max_message_size > 0 && (long long)z->batch_bytes > cfg->max_message_size)
        z->batch_bytes = (size_t)cfg->max_message_size; /* a peer would refuse more */
    if (z->batch_bytes < 4096) z->batch_bytes = 0;       /* no batches */
    pthread_mutex_init(&z->lock, NULL);
    clock_cond_init(&z->wake);
    z->ctx = zmq_ctx_new();
    if (z->ctx) zmq_ctx_set(z->ctx, ZMQ_MAX_SOCKETS, cfg->sockets_per_context);
    if (z->ctx) z->pull = zmq_socket(z->ctx, ZMQ_PULL);
    if (!z->pull) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        zmqdrv_close(&z->base);
        return NULL;
    }
    zmqdrv_set_int(z->pull, ZMQ_LINGER, 0);
    zmqdrv_set_int(z->pull, ZMQ_RCVHWM, cfg->recv_hwm);
    size_t fd_len = sizeof z->pull_fd;
    if (zmq_getsockopt(z->pull, ZMQ_FD, &z->pull_fd, &fd_len) != 0) z->pull_fd = -1;
    zmqdrv_set_int(z->pull, ZMQ_IPV6, !ipv4_literal(cfg->bind_host));
    zmq_setsockopt(z->pull, ZMQ_MAXMSGSIZE, &cfg->max_message_size, sizeof(int64_t));
    if (cfg->authorize && curve_server(z, err, errlen) != 0) {
        zmqdrv_close(&z->base);
        return NULL;
    }
    if (bind_pull(z, cfg, err, errlen) != 0) {
        zmqdrv_close(&z->base);
        return NULL;
    }
    return &z->base;
}

int zmqdrv_debug_send(const char *address, const char *const *frames, const size_t *sizes,
                      int n, transport *as, const char *server_key, char *err, size_t errlen) {
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_PUSH) : NULL;
    int rc = -1;
    if (!s) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    } else {
        zmqdrv_set_int(s, ZMQ_LINGER, 5000);
        zmqdrv_set_int(s, ZMQ_IPV6, 1);
        if (as && as->ops == &zmqdrv_ops && ((zmqdrv *)as)->cfg.authorize &&
            zmqdrv_curve_client((zmqdrv *)as, s, server_key, err, errlen) != 0) {
            /* err says why */
        } else if (zmq_connect(s, address) != 0) {
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
