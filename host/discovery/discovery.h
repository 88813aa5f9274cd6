/* discovery.h: who is in a group. A member registers `name -> address`
 * under its group and type and keeps itself alive with a heartbeat; lookups
 * see only live members. Redis is the network backend (redis.c), inproc.c
 * the one for proxies of one process (maro.testing); the proxy only uses the
 * calls below. */
#ifndef MARO_DISCOVERY_H
#define MARO_DISCOVERY_H

#include <stddef.h>

typedef struct discovery discovery;

typedef struct discovery_member {
    char *name, *type, *address;
} discovery_member;

/* Waits between retries; returns nonzero when the wait was cut short
 * (a signal asks the process to stop), and the caller gives up. */
typedef int (*discovery_sleep_fn)(void *ctx, double seconds);

typedef struct discovery_config {
    const char *host;
    int port;
    const char *group;
    int max_connect_retries;         /* tries after the first */
    double initial_retry_interval;   /* seconds; doubles after each try */
    double heartbeat_interval;       /* seconds between refreshes */
    double heartbeat_expiry;         /* a member silent this long is gone */
    /* The previous holder of the name is known to be dead (a launcher
     * restart): register over its key at once instead of waiting for it to
     * expire. Ignored in-process, where members cannot die without leaving. */
    int take_over_name;
    discovery_sleep_fn sleep;
    void *sleep_ctx;
    /* Called when a member of the group joins or leaves, by backends that
     * learn it synchronously (in-process); others use notify_fd. May be NULL. */
    void (*on_change)(void *ctx);
    void *change_ctx;
} discovery_config;

enum { DISCOVERY_OK = 0, DISCOVERY_ERROR = -1, DISCOVERY_TAKEN = -2, DISCOVERY_STOPPED = -3 };

struct discovery_ops {
    int (*join)(discovery *d, const char *name, const char *type, const char *address,
                char *err, size_t errlen);
    int (*lookup_type)(discovery *d, const char *type, discovery_member **out, size_t *n,
                       char *err, size_t errlen);
    int (*lookup_name)(discovery *d, const char *name, discovery_member *out, char *err,
                       size_t errlen);
    int (*notify_fd)(discovery *d);
    int (*changes)(discovery *d);
    void (*leave)(discovery *d);
    void (*close)(discovery *d);
};

struct discovery {
    const struct discovery_ops *ops;
};

/* Connects to Redis, retrying with exponential backoff. NULL with err
 * naming the address and the number of tries on failure; *stopped is set
 * when a signal cut the retries short. */
discovery *discovery_redis_open(const discovery_config *cfg, int *stopped, char *err,
                                size_t errlen);

/* Members of one hub (transport/inproc.h), without Redis. */
struct inproc_hub;
discovery *discovery_inproc_open(struct inproc_hub *hub, const discovery_config *cfg, char *err,
                                 size_t errlen);

/* Registers and starts the heartbeat. DISCOVERY_TAKEN: another live member
 * uses the name (err says at which address). */
static inline int discovery_join(discovery *d, const char *name, const char *type,
                                 const char *address, char *err, size_t errlen) {
    return d->ops->join(d, name, type, address, err, errlen);
}
/* The live members of a type (an array the caller frees with discovery_free_members). */
static inline int discovery_lookup_type(discovery *d, const char *type, discovery_member **out,
                                        size_t *n, char *err, size_t errlen) {
    return d->ops->lookup_type(d, type, out, n, err, errlen);
}
/* 1 found (out filled; free with discovery_free_member), 0 no live member of that name. */
static inline int discovery_lookup_name(discovery *d, const char *name, discovery_member *out,
                                        char *err, size_t errlen) {
    return d->ops->lookup_name(d, name, out, err, errlen);
}
/* A descriptor that becomes readable when members join or leave (poll it
 * with the sockets), or -1 when there is none: then only periodic lookups
 * notice changes. */
static inline int discovery_notify_fd(discovery *d) { return d->ops->notify_fd(d); }
/* After notify_fd was readable: how many joins and leaves were announced. */
static inline int discovery_changes(discovery *d) { return d->ops->changes(d); }
/* Stops the heartbeat and removes the registration; idempotent. */
static inline void discovery_leave(discovery *d) { d->ops->leave(d); }
static inline void discovery_close(discovery *d) { d->ops->close(d); }

void discovery_free_member(discovery_member *m);
void discovery_free_members(discovery_member *m, size_t n);

/* The local address of the route towards host:port (what peers on that
 * network can reach us at), written without brackets. 0, or -1 with err. */
int discovery_route_address(const char *host, int port, char *out, size_t outlen, char *err,
                            size_t errlen);

#endif
