/* transport.h: how a proxy moves messages to and from its peers. One
 * receiving endpoint per proxy; one sending handle per peer. A sender hands
 * over a message's header and payload; the transport packs them into
 * packets (wire/packet.h), numbers the packets, and keeps count of what the
 * receiver has not acknowledged yet. A receiver gets whole transmissions (a
 * packet and its extra frames) and decodes them itself.
 *
 * ZeroMQ is the network driver (zmq.c); inproc.c serves proxies of one
 * process (maro.testing). The proxy only uses the calls below. */
#ifndef MARO_TRANSPORT_H
#define MARO_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/blob.h"
#include "wire/header.h"
#include "wire/packet.h"

typedef struct transport transport;
typedef struct transport_peer transport_peer;

typedef struct transport_config {
    const char *bind_host;       /* interface the receiving endpoint binds, "*" for all */
    const char *advertised_host; /* host part of the address peers connect to */
    int send_hwm, recv_hwm;      /* queue lengths (transmissions) before a send waits */
    /* ZeroMQ sockets per context: one per peer sent to, and the receiving
     * one. A context pays for its slots when it starts; a proxy that needs
     * more sockets opens another context, with its own I/O thread. */
    int sockets_per_context;
    long long max_message_size;  /* bytes per frame; bigger frames are refused (-1: no limit) */
    int retain;                  /* keep sent packets until acknowledged, to send again */
    wire_slice group, name;      /* written into every packet */
    uint8_t incarnation[WIRE_INCARNATION_LEN];
    /* Set: a closed group (docs/security.md). Every connection is encrypted
     * and authenticated with CURVE under a key pair the transport makes, and
     * a peer may connect here only when authorize (called on a thread of the
     * transport) names the member its public key belongs to (transport/zap.h).
     * Received transmissions then say who sent them (transport_rx.peer). */
    int (*authorize)(void *ctx, const char *key, char *name, size_t namelen);
    void *authorize_ctx;
} transport_config;

#define TRANSPORT_MAX_FRAMES 16 /* extra frames of one transmission */

/* A received transmission; the caller owns the blobs. */
typedef struct transport_rx {
    blob *packet;
    blob *frames[TRANSPORT_MAX_FRAMES];
    int n_frames;
    /* In a closed group: the member whose connection it came over, as the
     * key exchange proved; empty otherwise. */
    char peer[WIRE_MAX_NAME + 1];
} transport_rx;

#define TRANSPORT_KEY_Z85 40 /* a CURVE public key as text */

/* What transport_wait saw. */
enum { TRANSPORT_READABLE = 1, TRANSPORT_WRITABLE = 2, TRANSPORT_FD = 4 };

/* A plain file descriptor waited on next to the sockets; ready is set when
 * it is readable. */
typedef struct transport_fd {
    int fd; /* < 0: skipped */
    int ready;
} transport_fd;
#define TRANSPORT_MAX_FDS 8

struct transport_ops {
    const char *(*address)(transport *t);
    const char *(*public_key)(transport *t);
    transport_peer *(*connect)(transport *t, const char *address, const char *server_key,
                               char *err, size_t errlen);
    int (*reconnect)(transport *t, transport_peer *p, const char *address,
                     const char *server_key, char *err, size_t errlen);
    void (*disconnect)(transport *t, transport_peer *p);
    int (*try_send)(transport *t, transport_peer *p, const wire_header *h, blob *payload,
                    uint64_t *seq, char *err, size_t errlen);
    int (*set_ack)(transport *t, transport_peer *p, const uint8_t *incarnation, uint64_t seq);
    int (*flush)(transport *t, transport_peer *p);
    void (*acked)(transport *t, transport_peer *p, uint64_t seq);
    uint64_t (*unacked)(transport *t, transport_peer *p, uint64_t *oldest);
    int (*try_recv)(transport *t, transport_rx *rx, char *err, size_t errlen);
    int (*wait)(transport *t, int readable, transport_peer *writable, transport_fd *fds, int nfds,
                double timeout);
    void (*close)(transport *t);
};

struct transport {
    const struct transport_ops *ops;
};

/* The ZeroMQ driver: a PULL socket bound on an ephemeral TCP port receives,
 * one PUSH socket per peer sends (a full queue makes a send wait, never drop). */
transport *zmqdrv_open(const transport_config *cfg, char *err, size_t errlen);

/* The in-process driver: members of one hub (transport/inproc.h) queue
 * transmissions straight into each other's endpoints. */
struct inproc_hub;
transport *inproc_transport_open(struct inproc_hub *hub, const transport_config *cfg,
                                 char *err, size_t errlen);

/* "tcp://host:port", the address peers connect to. */
static inline const char *transport_address(transport *t) { return t->ops->address(t); }
/* In a closed group, the CURVE public key peers must expect here (Z85);
 * NULL in an open one. */
static inline const char *transport_public_key(transport *t) { return t->ops->public_key(t); }
/* NULL with err filled when the address is unusable. server_key: the
 * peer's public key in a closed group (NULL in an open one). */
static inline transport_peer *transport_connect(transport *t, const char *address,
                                                const char *server_key, char *err,
                                                size_t errlen) {
    return t->ops->connect(t, address, server_key, err, errlen);
}
/* The peer runs at another address now (it restarted): what was queued for
 * the old one is dropped, and with `retain` the packets it did not
 * acknowledge are sent again first, in order. 0, or -1 with err. */
static inline int transport_reconnect(transport *t, transport_peer *p, const char *address,
                                      const char *server_key, char *err, size_t errlen) {
    return t->ops->reconnect(t, p, address, server_key, err, errlen);
}
/* Forgets the peer; what it has not acknowledged is dropped. */
static inline void transport_disconnect(transport *t, transport_peer *p) {
    t->ops->disconnect(t, p);
}
/* Queues one message: 1 queued (*seq: the packet it went in), 0 the peer's
 * queue is full (wait for TRANSPORT_WRITABLE), -1 error. The payload blob
 * is shared, not copied, when that pays. */
static inline int transport_try_send(transport *t, transport_peer *p, const wire_header *h,
                                     blob *payload, uint64_t *seq, char *err, size_t errlen) {
    return t->ops->try_send(t, p, h, payload, seq, err, errlen);
}
/* Acknowledges, in the next packet to p, the packets of p's run
 * `incarnation` up to seq. 1 when an acknowledgement handed over before was
 * still waiting for that packet (this one replaces it), else 0. */
static inline int transport_set_ack(transport *t, transport_peer *p, const uint8_t *incarnation,
                                    uint64_t seq) {
    return t->ops->set_ack(t, p, incarnation, seq);
}
/* Sends what waits for p now: its open batch, or a packet that carries
 * only a pending acknowledgement. 1 nothing left waiting, 0 its queue is full. */
static inline int transport_flush(transport *t, transport_peer *p) { return t->ops->flush(t, p); }
/* p acknowledged our packets up to seq. */
static inline void transport_acked(transport *t, transport_peer *p, uint64_t seq) {
    t->ops->acked(t, p, seq);
}
/* Messages queued for p that p has not acknowledged yet; *oldest (if
 * given) is the number of the oldest such packet, UINT64_MAX when none. */
static inline uint64_t transport_unacked(transport *t, transport_peer *p, uint64_t *oldest) {
    return t->ops->unacked(t, p, oldest);
}
/* 1 a transmission (the caller owns rx's blobs), 0 nothing waiting, -1 a
 * refused one (too many frames, out of memory) with err: drop and go on. */
static inline int transport_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    return t->ops->try_recv(t, rx, err, errlen);
}
/* Waits up to timeout seconds (negative: forever) until a transmission can
 * be received (when readable is set), writable (if given) can take one, or
 * one of the fds (at most TRANSPORT_MAX_FDS) is readable. Returns the
 * TRANSPORT_* bits seen, 0 on timeout or interruption. */
static inline int transport_wait(transport *t, int readable, transport_peer *writable,
                                 transport_fd *fds, int nfds, double timeout) {
    return t->ops->wait(t, readable, writable, fds, nfds, timeout);
}
/* Closes the endpoint and every peer's connection (what waits to leave gets a
 * moment). */
static inline void transport_close(transport *t) { t->ops->close(t); }

void transport_rx_free(transport_rx *rx);

/* For tests: sends raw frames (any bytes, any count) from a throwaway PUSH
 * socket to a receiving address, as a stranger on the network could; with
 * `as` (a ZeroMQ transport of a closed group) and server_key, over a
 * connection authenticated with as's keys, as a member could.
 * 0, or -1 with err. */
int zmqdrv_debug_send(const char *address, const char *const *frames, const size_t *sizes,
                      int n, transport *as, const char *server_key, char *err, size_t errlen);

/* For tests (zmq_probe.c): a bare PULL socket bound on host, a CURVE
 * server under a key pair of its own that lets any client in when curve is
 * set, as an impostor's would be. */
typedef struct zmq_probe zmq_probe;
zmq_probe *zmq_probe_open(const char *host, int curve, char *err, size_t errlen);
const char *zmq_probe_address(const zmq_probe *pr);
const char *zmq_probe_public_key(const zmq_probe *pr); /* "" without curve */
/* 1: a frame arrived within timeout seconds (its first outlen bytes in
 * out, *len of them); 0: none. */
int zmq_probe_receive(zmq_probe *pr, double timeout, char *out, size_t outlen, size_t *len);
void zmq_probe_close(zmq_probe *pr);

#endif
