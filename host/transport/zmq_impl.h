/* zmq_impl.h: the ZeroMQ driver's state, shared by zmq.c (sockets,
 * receiving, waiting) and zmq_out.c (packets to peers, batches, the
 * flusher thread). Not for other modules: they use transport.h. */
#ifndef MARO_ZMQ_IMPL_H
#define MARO_ZMQ_IMPL_H

#include <pthread.h>

#include "base/buf.h"
#include "base/log.h"
#include "transport/inflight.h"
#include "transport/transport.h"
#include "transport/zap.h"
#include "wire/packet.h"

/* Contexts beyond the first, each for cfg.sockets_per_context more peers:
 * 64 of 1023 reach a group of 65,000. */
#define ZMQDRV_MORE_CONTEXTS 63

typedef struct zmqdrv {
    transport base;
    void *ctx, *pull;
    /* The PULL socket's ZMQ_FD, which becomes readable when something
     * arrives after a receive found nothing (pull_drained): waiting on it
     * is one poll, where zmq_poll makes four system calls. */
    int pull_fd, pull_drained;
    void *more_ctx[ZMQDRV_MORE_CONTEXTS]; /* opened as ctx fills, for PUSH sockets */
    int n_more_ctx;
    transport_config cfg;
    char group[WIRE_MAX_NAME + 1], name[WIRE_MAX_NAME + 1]; /* cfg's strings, owned */
    size_t batch_bytes; /* the largest batch; 0: none fits under max_message_size */
    char address[300];
    /* A closed group: this run's CURVE key pair (Z85), and the handler that
     * lets members in. */
    char public_key[TRANSPORT_KEY_Z85 + 1], secret_key[TRANSPORT_KEY_Z85 + 1];
    zap *zap;
    pthread_mutex_t lock; /* PUSH sockets, batches, peers, seq, due, stop */
    pthread_cond_t wake;  /* the flusher: a batch began, or stop */
    pthread_t flusher;
    int flusher_running, flusher_idle, stop;
    double due;        /* when the flusher looks at the open batches next; 0: none is open */
    double last_batch; /* when the last batch began */
    uint64_t seq;      /* the last packet number given */
    unsigned long waits; /* how often the proxy waited: the batching rule counts them */
    log_limiter oom_lim;
    transport_peer *peers;
} zmqdrv;

struct transport_peer {
    void *push;
    buf out;                   /* the open batch, or the packet being sent */
    wire_packet_writer writer;
    int batched;               /* messages in the open batch (0: none open) */
    uint64_t batch_seq;        /* the open batch's packet number */
    double batch_began;        /* when it began */
    int batch_seen;            /* its messages when the flusher last looked */
    int batch_acks;            /* the open batch carries an acknowledgement... */
    uint64_t batch_ack_seq;    /* ...up to this number */
    unsigned long sent_since_wait; /* waits + 1 when a message went to this peer since the last wait */
    inflight sent;             /* packets the peer has not acknowledged */
    int ack_pending;           /* an acknowledgement waits to be sent */
    uint8_t ack_incarnation[WIRE_INCARNATION_LEN];
    uint64_t ack_seq;
    transport_peer *prev, *next;
};

void zmqdrv_set_int(void *sock, int opt, int value);

/* zmq_out.c */
transport_peer *zmqdrv_connect(transport *t, const char *address, const char *server_key,
                               char *err, size_t errlen);
int zmqdrv_reconnect(transport *t, transport_peer *p, const char *address,
                     const char *server_key, char *err, size_t errlen);
/* Makes s a CURVE client of the server with that key, under z's keys.
 * 0, or -1 with err. */
int zmqdrv_curve_client(zmqdrv *z, void *s, const char *server_key, char *err, size_t errlen);
void zmqdrv_disconnect(transport *t, transport_peer *p);
int zmqdrv_try_send(transport *t, transport_peer *p, const wire_header *h, blob *payload,
                    uint64_t *seq, char *err, size_t errlen);
int zmqdrv_set_ack(transport *t, transport_peer *p, const uint8_t *incarnation, uint64_t seq);
int zmqdrv_flush(transport *t, transport_peer *p);
void zmqdrv_acked(transport *t, transport_peer *p, uint64_t seq);
uint64_t zmqdrv_unacked(transport *t, transport_peer *p, uint64_t *oldest);
/* Sends every batch that can go (they carry acknowledgements; the proxy
 * decides when one goes alone); called with the lock held. */
void zmqdrv_flush_all(zmqdrv *z);
/* Stops the flusher thread, if it runs. */
void zmqdrv_stop_flusher(zmqdrv *z);

#endif
