/* discovery.h: who is in a group. A member registers its name, type and
 * address under its group and keeps the registration alive with a
 * heartbeat; others see only live members. Redis is the network backend
 * (redis.c: a thread of its own talks to Redis, so that a slow or hung
 * server never stalls the script); inproc.c serves proxies of one process
 * (maro.testing). The proxy only uses the calls below.
 *
 * The proxy names the types it follows; the backend keeps a view of each
 * (the live members as of its last successful lookup) and says, through a
 * version number and a descriptor, when a view changed. */
#ifndef MARO_DISCOVERY_H
#define MARO_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "discovery/registration.h"

typedef struct discovery discovery;

typedef struct discovery_config {
    const char *group;
    /* Redis: where, and who we are to it (user may be NULL; password NULL: no AUTH). */
    const char *host;
    int port;
    const char *user, *password;
    int db;
    int max_connect_retries;       /* tries after the first */
    double initial_retry_interval; /* seconds; doubles after each try */
    double heartbeat_interval;     /* seconds between refreshes of the registration */
    double heartbeat_expiry;       /* a member silent this long is gone */
    double refresh_interval;       /* seconds between lookups of the followed types */
    registration me;               /* what this member registers (me.curve: its CURVE key) */
    /* A closed group: what the group key gives (keys/group_key.h); NULL: open. */
    const group_secrets *secrets;
    /* Register over a registration of this run (16 hex digits; a launcher
     * restarting what it started and reaped), or NULL. */
    const char *take_over_from;
    /* Sleeps up to seconds (retries); nonzero when interrupted: give up. */
    int (*sleep)(void *ctx, double seconds);
    void *sleep_ctx;
} discovery_config;

/* The live members of one type as of the last successful lookup. */
typedef struct discovery_view {
    registration *members;
    size_t n;
    int ok;       /* the last lookup succeeded: members is the registry's view */
    double as_of; /* when that lookup ran (clock_now() time); 0: never */
} discovery_view;

enum {
    DISCOVERY_OK = 0,
    DISCOVERY_ERROR = -1,
    DISCOVERY_TAKEN = -2,
    DISCOVERY_STOPPED = -3,
    DISCOVERY_REFUSED = -4 /* the group is closed to this member, or open while it holds a key */
};

struct discovery_ops {
    int (*join)(discovery *d, char *err, size_t errlen);
    int (*follow)(discovery *d, const char *type);
    uint64_t (*version)(discovery *d);
    int (*view)(discovery *d, const char *type, discovery_view *out);
    int (*said_goodbye)(discovery *d, const char *name);
    int (*resolve)(discovery *d, const char *name, double timeout, registration *out, char *err,
                   size_t errlen);
    int (*authorize)(discovery *d, const char *curve, double timeout, registration *out,
                     char *err, size_t errlen);
    int (*types)(discovery *d, char ***out, size_t *n);
    int (*notify_fd)(discovery *d);
    void (*set_stats)(discovery *d, const registration_stats *s);
    void (*leave)(discovery *d);
    void (*close)(discovery *d);
};

struct discovery {
    const struct discovery_ops *ops;
};

/* Connects to Redis, retrying with exponential backoff. NULL with err
 * naming the address and the number of tries on failure (never the
 * password); *stopped is set when the sleep was interrupted. */
discovery *discovery_redis_open(const discovery_config *cfg, int *stopped, char *err,
                                size_t errlen);

/* Members of one hub (transport/inproc.h), without Redis. */
struct inproc_hub;
discovery *discovery_inproc_open(struct inproc_hub *hub, const discovery_config *cfg, char *err,
                                 size_t errlen);

/* Registers and starts the heartbeat. DISCOVERY_TAKEN: another live member
 * uses the name (err says at which address); DISCOVERY_REFUSED: the group
 * is closed with a key this member does not hold (err says so). */
static inline int discovery_join(discovery *d, char *err, size_t errlen) {
    return d->ops->join(d, err, errlen);
}
/* Keeps a view of this type from now on. 0, or -1 when out of memory. */
static inline int discovery_follow(discovery *d, const char *type) {
    return d->ops->follow(d, type);
}
/* Grows whenever a view changed. Cheap: read it before every send. */
static inline uint64_t discovery_version(discovery *d) { return d->ops->version(d); }
/* A copy of the view of a followed type (free with discovery_view_free).
 * 0, or -1 when the type is not followed or out of memory. */
static inline int discovery_view_of(discovery *d, const char *type, discovery_view *out) {
    return d->ops->view(d, type, out);
}
/* 1 when the member of that name left the group on purpose after it last
 * registered (it needs no time to be missed). */
static inline int discovery_said_goodbye(discovery *d, const char *name) {
    return d->ops->said_goodbye(d, name);
}
/* Looks a name up, waiting at most timeout seconds for the registry.
 * 1 found (out filled; free with registration_free), 0 no live member of
 * that name, -1 with err (registry unreachable or too slow). */
static inline int discovery_resolve(discovery *d, const char *name, double timeout,
                                    registration *out, char *err, size_t errlen) {
    return d->ops->resolve(d, name, timeout, out, err, errlen);
}
/* The member of a closed group whose registration holds this CURVE public
 * key (Z85), looked up as discovery_resolve looks up a name; any thread may
 * ask. 1 found (out filled), 0 none, -1 with err. */
static inline int discovery_authorize(discovery *d, const char *curve, double timeout,
                                      registration *out, char *err, size_t errlen) {
    if (!d->ops->authorize) return 0;
    return d->ops->authorize(d, curve, timeout, out, err, errlen);
}
/* The types present in the group as last seen (for diagnostics): an array
 * of strings the caller frees (each, then the array). 0, or -1. */
static inline int discovery_types(discovery *d, char ***out, size_t *n) {
    return d->ops->types(d, out, n);
}
/* Readable when the version grew (poll it with the sockets; reading is
 * the backend's business), or -1 when there is none. */
static inline int discovery_notify_fd(discovery *d) { return d->ops->notify_fd(d); }
/* What the next heartbeat publishes (marohost status). */
static inline void discovery_set_stats(discovery *d, const registration_stats *s) {
    d->ops->set_stats(d, s);
}
/* Stops the heartbeat and removes the registration; idempotent. */
static inline void discovery_leave(discovery *d) { d->ops->leave(d); }
static inline void discovery_close(discovery *d) { d->ops->close(d); }

void discovery_view_free(discovery_view *v);

/* The local address of the route towards host:port (what peers on that
 * network can reach us at), written without brackets. 0, or -1 with err. */
int discovery_route_address(const char *host, int port, char *out, size_t outlen, char *err,
                            size_t errlen);

#endif
