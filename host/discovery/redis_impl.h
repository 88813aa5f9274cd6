/* redis_impl.h: the Redis backend's state, shared by redis.c (the
 * operations the proxy calls, on its thread) and redis_worker.c (the thread
 * that talks to Redis). Everything below `lock` is shared under it. Not for
 * other modules: they use discovery.h. */
#ifndef MARO_REDIS_IMPL_H
#define MARO_REDIS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "discovery/discovery.h"
#include "discovery/registry.h"

#define MAX_GOODBYES 1024    /* names remembered as having left on purpose */
#define RECONNECT_DELAY 0.25 /* seconds between attempts while Redis is away */

typedef struct followed {
    char *type;
    discovery_view view;
} followed;

typedef struct request {
    struct request *next;
    char *name; /* or, with by_key, a CURVE public key */
    int by_key;
    int done, abandoned, found;
    registration answer;
    char err[300];
} request;

typedef struct rdisc {
    discovery base;
    discovery_config cfg;
    char *host, *user, *password, *group, *name, *type, *address, *take_over_from;
    redis_target target;
    registry_keys keys;
    double io_timeout;
    redisContext *c; /* the main thread's until joined, then the worker's */
    buf value;       /* the registration's text */
    size_t identity_len;
    int joined;
    int looked_up; /* joining looked the followed types up: the worker need not at once */
    /* the worker */
    pthread_t thread;
    int running;
    int wake[2], notify[2];
    _Atomic uint64_t version;
    uint64_t reported; /* the version the main thread last saw */
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t answered;
    int stop, refresh_now;
    followed *types;
    size_t n_types;
    char *goodbyes[MAX_GOODBYES];
    size_t n_goodbyes;
    request *requests;
    registration_stats stats;
    char **group_types;
    size_t n_group_types;
} rdisc;

/* redis_worker.c */
void rdisc_poke(int fd);  /* wakes whoever polls the pipe's other end */
void rdisc_drain(int fd); /* empties a pipe */
int rdisc_start_worker(rdisc *d);
/* Looks up every followed type; the views change under the lock. The types
 * present in the group, which only the joining diagnostics show, are read
 * too when with_types. By the worker, or by the joining thread before the
 * worker starts. */
int rdisc_refresh(rdisc *d, int with_types, char *err, size_t errlen);
void rdisc_stop_worker(rdisc *d);
void rdisc_free_request(request *q);

#endif
