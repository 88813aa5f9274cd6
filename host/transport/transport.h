/* transport.h: how a proxy moves messages (a header and a payload) to and
 * from its peers. One receiving endpoint per proxy; one sending handle per
 * connected peer. ZeroMQ is the network driver (zmq.c), inproc.c the one
 * for proxies of one process (maro.testing); the proxy only uses the calls
 * below. */
#ifndef MARO_TRANSPORT_H
#define MARO_TRANSPORT_H

#include <stddef.h>

#include "base/blob.h"

typedef struct transport transport;
typedef struct transport_peer transport_peer;

typedef struct transport_config {
    const char *bind_host;       /* interface to bind the receiving endpoint on, "*" for all */
    const char *advertised_host; /* host part of the address peers connect to */
    int linger_ms;               /* how long queued messages may still leave on close */
    int send_hwm, recv_hwm;      /* queue lengths (messages) before a send waits */
    long long max_message_size;  /* bytes per frame; bigger frames are refused (-1: no limit) */
} transport_config;

/* A received message. The header bytes stay valid until the next
 * transport_try_recv (most messages are decoded and handed out at once, so
 * they are not copied); the caller owns the payload blob. */
typedef struct transport_rx {
    const char *header;
    size_t header_len;
    blob *payload;
} transport_rx;

/* What transport_wait saw. */
enum { TRANSPORT_READABLE = 1, TRANSPORT_WRITABLE = 2, TRANSPORT_FD = 4 };

/* A plain file descriptor waited on next to the sockets (signals, discovery
 * notifications, file watching); ready is set when it is readable. */
typedef struct transport_fd {
    int fd; /* < 0: skipped */
    int ready;
} transport_fd;

struct transport_ops {
    const char *(*address)(transport *t);
    transport_peer *(*connect)(transport *t, const char *address, char *err, size_t errlen);
    void (*disconnect)(transport *t, transport_peer *p, int discard);
    int (*try_send)(transport *t, transport_peer *p, const char *header, size_t header_len,
                    blob *payload, char *err, size_t errlen);
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

/* The in-process driver (inproc.c): members of one hub (transport/inproc.h)
 * queue frames straight into each other's endpoints. */
struct inproc_hub;
transport *inproc_transport_open(struct inproc_hub *hub, const transport_config *cfg,
                                 char *err, size_t errlen);

/* "tcp://host:port", the address peers connect to. */
static inline const char *transport_address(transport *t) { return t->ops->address(t); }
/* NULL with err filled when the address is unusable. */
static inline transport_peer *transport_connect(transport *t, const char *address, char *err,
                                                size_t errlen) {
    return t->ops->connect(t, address, err, errlen);
}
/* Queued messages still leave within the linger time, unless discard is
 * set (the peer is gone, and they would only delay closing). */
static inline void transport_disconnect(transport *t, transport_peer *p, int discard) {
    t->ops->disconnect(t, p, discard);
}
/* 1 queued, 0 the peer's queue is full (wait for TRANSPORT_WRITABLE), -1 error.
 * The payload blob is shared, not copied, when that pays. */
static inline int transport_try_send(transport *t, transport_peer *p, const char *header,
                                     size_t header_len, blob *payload, char *err,
                                     size_t errlen) {
    return t->ops->try_send(t, p, header, header_len, payload, err, errlen);
}
/* 1 a message (the caller owns rx's payload), 0 nothing waiting, -1 a refused
 * message (wrong frame count, oversize) with err saying why: drop and go on. */
static inline int transport_try_recv(transport *t, transport_rx *rx, char *err, size_t errlen) {
    return t->ops->try_recv(t, rx, err, errlen);
}
/* Waits up to timeout seconds (negative: forever) until a message can be
 * received (when readable is set), writable (if given) can take one, or one
 * of the fds (at most 8) is readable. Returns the TRANSPORT_* bits seen
 * (TRANSPORT_FD when any fd is ready), 0 on timeout or interruption. */
static inline int transport_wait(transport *t, int readable, transport_peer *writable,
                                 transport_fd *fds, int nfds, double timeout) {
    return t->ops->wait(t, readable, writable, fds, nfds, timeout);
}
static inline void transport_close(transport *t) { t->ops->close(t); }

/* For tests: sends raw frames (any bytes, any count) from a throwaway PUSH
 * socket to a receiving address, as a stranger on the network could.
 * 0, or -1 with err. */
int zmqdrv_debug_send(const char *address, const char *const *frames, const size_t *sizes,
                      int n, char *err, size_t errlen);

#endif
