#include "transport/zap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/log.h"
#include "wire/header.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* where libzmq looks for the handler */
#define KEY_Z85 40
/* Keys let in before: a peer whose connection breaks is let in again at
 * once, without asking discovery (whose Redis may be away just then). A
 * member's key is made for one run, so the cache only grows with runs. */
#define CACHE_SLOTS 256

typedef struct known {
    char key[KEY_Z85 + 1];
    char *name;
} known;

struct zap {
    void *rep;
    pthread_t thread;
    zap_authorize_fn authorize;
    void *authorize_ctx;
    known cache[CACHE_SLOTS];
    size_t next_slot;
    char name[WIRE_MAX_NAME + 1]; /* the answer being made */
    log_limiter refused_lim;
};

static const char *cached(zap *z, const char *key) {
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (z->cache[i].name && strcmp(z->cache[i].key, key) == 0) return z->cache[i].name;
    return NULL;
}

static void remember(zap *z, const char *key, const char *name) {
    known *k = &z->cache[z->next_slot++ % CACHE_SLOTS];
    free(k->name);
    k->name = strdup(name);
    memcpy(k->key, key, sizeof k->key);
}

/* Receives one request's frames (ZAP: version, request id, domain, address,
 * routing id, mechanism, then the mechanism's credentials). -1 when the
 * context is ending. */
#define REQUEST_FRAMES 7
static int receive_request(zap *z, zmq_msg_t *f, int *n) {
    *n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR) continue;
            for (int i = 0; i < *n; i++) zmq_msg_close(&f[i]);
            return -1;
        }
        int more = zmq_msg_more(&m);
        if (*n < REQUEST_FRAMES) {
            zmq_msg_init(&f[*n]);
            zmq_msg_move(&f[(*n)++], &m);
        }
        zmq_msg_close(&m);
        if (!more) return 0;
    }
}

static int send_reply(zap *z, const zmq_msg_t *request_id, const char *status,
                      const char *text, const char *user) {
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)request_id);
    if (zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE) < 0 || zmq_msg_send(&id, z->rep, ZMQ_SNDMORE) < 0 ||
        zmq_send(z->rep, status, strlen(status), ZMQ_SNDMORE) < 0 ||
        zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(z->rep, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(z->rep, "", 0, 0) < 0) {
        zmq_msg_close(&id);
        return -1;
    }
    return 0;
}

/* The name of the member whose key the request carries, or NULL (why, and
 * *later set when it could not be told). */
static const char *judge(zap *z, zmq_msg_t *f, int n, const char **why, char *key, int *later) {
    if (n != REQUEST_FRAMES || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3)) {
        *why = "not a ZAP 1.0 request";
        return NULL;
    }
    if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
        zmq_msg_size(&f[6]) != 32) {
        *why = "the group is closed: only CURVE clients holding its key are let in";
        return NULL;
    }
    zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
    const char *known_name = cached(z, key);
    if (known_name) return known_name;
    int found = z->authorize(z->authorize_ctx, key, z->name, sizeof z->name);
    if (found != 1) {
        *later = found < 0;
        *why = found < 0 ? "its key could not be checked" : "the key is no member's";
        return NULL;
    }
    remember(z, key, z->name);
    return z->name;
}

static void *zap_main(void *arg) {
    zap *z = arg;
    zmq_msg_t f[REQUEST_FRAMES];
    int n;
    while (receive_request(z, f, &n) == 0) {
        const char *why = "", *who;
        char key[KEY_Z85 + 1] = "";
        int later = 0;
        who = judge(z, f, n, &why, key, &later);
        if (!who && !later) {
            char peer[64] = "";
            if (n >= 4) snprintf(peer, sizeof peer, "%.*s", (int)zmq_msg_size(&f[3]),
                                 (const char *)zmq_msg_data(&f[3]));
            unsigned long held;
            if (log_limiter_pass(&z->refused_lim, 5.0, &held))
                log_warn("refused a connection from %s (key %s): %s (%lu more refusals held "
                         "back)", peer[0] ? peer : "an unknown address", key[0] ? key : "none",
                         why, held);
        }
        /* 300, ZAP's temporary failure: the connection ends without an ERROR
         * command (the authorizer has logged why). */
        int ok = n >= 2 ? send_reply(z, &f[1], who ? "200" : later ? "300" : "400",
                                     who ? "OK" : why, who ? who : "")
                        : 0;
        for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
        if (ok < 0 && errno == ETERM) break;
    }
    zmq_close(z->rep);
    return NULL;
}

zap *zap_start(void *ctx, zap_authorize_fn authorize, void *authorize_ctx, char *err,
               size_t errlen) {
    zap *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->authorize = authorize;
    z->authorize_ctx = authorize_ctx;
    z->rep = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot start the handler of connections to a closed group: %s",
                 zmq_strerror(errno));
        if (z->rep) zmq_close(z->rep);
        free(z);
        return NULL;
    }
    sigset_t all, old; /* signals belong to the main thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = pthread_create(&z->thread, NULL, zap_main, z) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        snprintf(err, errlen, "cannot start the handler of connections to a closed group");
        zmq_close(z->rep);
        free(z);
        return NULL;
    }
    return z;
}

void zap_destroy(zap *z) {
    if (!z) return;
    pthread_join(z->thread, NULL);
    for (size_t i = 0; i < CACHE_SLOTS; i++) free(z->cache[i].name);
    free(z);
}
