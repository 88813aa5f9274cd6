/* zap.h: who may connect to a closed group's receiving socket. ZeroMQ asks
 * a ZAP handler (ZeroMQ RFC 27) about every CURVE handshake; this one runs
 * on a thread of its own and lets a client in when `authorize` names the
 * member its public key belongs to. ZeroMQ then stamps that name on every
 * message of the connection ("User-Id", zmq_msg_gets), so that a receiver
 * can tell who really sent a packet. */
#ifndef MARO_ZAP_H
#define MARO_ZAP_H

#include <stddef.h>

/* 1: the key (40 Z85 characters) is a member's, whose name is written to
 * name; 0: refused (ZAP 400); -1: could not tell (ZAP 300, a temporary
 * failure: no ERROR command, though libzmq's client does not connect
 * again either). Called on the handler's thread, which it may block while
 * it waits for an answer. */
typedef int (*zap_authorize_fn)(void *ctx, const char *key, char *name, size_t namelen);

typedef struct zap zap;

/* Binds the handler in the ZeroMQ context ctx and starts its thread. NULL
 * with err. */
zap *zap_start(void *ctx, zap_authorize_fn authorize, void *authorize_ctx, char *err,
               size_t errlen);
/* Joins the thread and frees. Call while or after the context terminates
 * (zmq_ctx_term is what ends the handler's wait). */
void zap_destroy(zap *z);

#endif
