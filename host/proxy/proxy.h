/* proxy.h: a member of a group. Joining registers it with discovery and
 * connects it to its expected peers; then it sends messages to peers by
 * name and receives messages in arrival order, keeping those that arrive
 * while it waits for particular ones. The Lua binding (proxy_lua*.c) builds
 * on these calls; how the pieces fit is in docs/architecture.md. */
#ifndef MARO_PROXY_H
#define MARO_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "base/blob.h"
#include "proxy/rxbuf.h"
#include "wire/header.h"

typedef struct proxy proxy;

typedef struct proxy_expected {
    const char *type;
    int count;
} proxy_expected;

struct inproc_hub;

typedef struct proxy_config {
    const char *group, *type, *name;
    /* Set: join the other proxies of this hub (transport/inproc.h) instead of
     * Redis and the network, as maro.testing does; redis_* are not used. */
    struct inproc_hub *hub;
    const char *redis_host;
    int redis_port;
    const char *redis_user, *redis_password; /* NULL: no AUTH */
    int redis_db;
    const char *advertised_host; /* NULL: the local address of the route to Redis */
    const char *bind_host;       /* NULL: the advertised address */
    const char *incarnation;     /* 16 hex digits naming this run, or NULL: random */
    const char *group_key_file;  /* a closed group's key (docs/security.md), or NULL: open */
    const char *take_over_from;  /* a run whose registration may be replaced, or NULL */
    const proxy_expected *expected;
    size_t n_expected;
    int max_redis_connect_retries;
    double initial_redis_connect_retry_interval;
    int max_peer_discovery_retries;
    double initial_peer_discovery_retry_interval, max_peer_discovery_retry_interval;
    double heartbeat_interval, heartbeat_expiry, peer_refresh_interval;
    size_t max_buffered_messages, max_buffered_bytes, max_sessions;
    double send_timeout; /* how long a send waits for a full queue; < 0: forever */
    double linger;       /* how long close() waits for what was sent to be acknowledged */
    int send_hwm, recv_hwm;
    int sockets_per_context; /* ZeroMQ sockets per context (transport_config) */
    long long max_message_size;
    /* Rejoin (docs/proxy.md, "Rejoining"): a peer that leaves is remembered
     * for peers_catch_lifetime seconds as expected back; with the cache,
     * messages sent to it meanwhile (and those it never acknowledged) are
     * kept, at most max_cache per peer, and delivered in order when it is
     * back. */
    int enable_rejoin, enable_cache;
    double peers_catch_lifetime;
    size_t max_cache;
    /* Before a send, wait up to minimal_timeout seconds until this many live
     * peers of the destination's type are connected: minimal[] per type,
     * else minimal_any (0: no wait). */
    const proxy_expected *minimal;
    size_t n_minimal;
    int minimal_any;
    double minimal_timeout;
} proxy_config;

void proxy_config_defaults(proxy_config *c);

/* Joins the group; returns only when joined. NULL with err saying what is
 * missing; *interrupted set when a signal cut joining short. */
proxy *proxy_open(const proxy_config *c, int *interrupted, char *err, size_t errlen);
/* Leaves the group: waits up to the linger for what was sent to be
 * acknowledged, deregisters, and frees. Returns how many messages accepted
 * by a send are not known to have arrived (logged when not 0). */
uint64_t proxy_close(proxy *p);

const char *proxy_name(const proxy *p);
const char *proxy_group(const proxy *p);
const char *proxy_type(const proxy *p);
const char *proxy_address(const proxy *p); /* where peers reach it, "tcp://host:port" */
int proxy_closed(const proxy *p);          /* 1 in a closed group (a group key) */
/* For tests that play a member sending forged packets (maro.core.testing). */
struct transport *proxy_transport(proxy *p);
unsigned long proxy_peers_version(proxy *p);
unsigned long proxy_dropped(const proxy *p); /* received messages refused so far */
size_t proxy_buffered(const proxy *p);       /* received, not taken by a receive yet */
size_t proxy_buffered_bytes(const proxy *p);
/* The live peers, after bringing the table up to date: call with i = 0, 1,
 * ... until it returns 0. */
int proxy_peer_at(proxy *p, size_t i, const char **name, const char **type);

/* ---- sending ------------------------------------------------------------- */

enum {
    PROXY_SEND_MINIMAL = 1, /* first wait for minimal_peers of the destination's type */
    PROXY_SEND_SESSION = 2  /* follow the session this message starts */
};
/* Sends one message to h->destination, waiting (and receiving meanwhile)
 * while its queue is full. A peer that is down but expected back gets it
 * kept, or -1 with err. h->group is set here. 0, or -1 with err. */
int proxy_send(proxy *p, wire_header *h, blob *payload, int flags, char *err, size_t errlen);
/* The same message to every live peer of a type; *reached counts them.
 * 0, or -1 with err (after *reached peers got it). */
int proxy_broadcast(proxy *p, const char *type, wire_header *h, blob *payload, int *reached,
                    char *err, size_t errlen);

int proxy_session_stage(proxy *p, wire_slice session_id);
/* How many replies a session can still get (-1: not followed); a wait
 * looks again when proxy_departures grows. */
int proxy_session_possible(proxy *p, wire_slice session_id);
unsigned long proxy_departures(proxy *p);

/* ---- receiving ----------------------------------------------------------- */

/* Chooses messages: 1 to take one (the chooser may count it), 0 to leave it. */
typedef int (*proxy_match_fn)(void *ctx, const wire_header *h);
/* The oldest buffered message that match takes (any when match is NULL),
 * or NULL. The caller frees it with rx_item_free. */
rx_item *proxy_take_buffered(proxy *p, proxy_match_fn match, void *ctx);

#define PROXY_NO_WAIT (-2.0) /* a deadline that only takes what has arrived */
enum { PROXY_DONE = 0, PROXY_TIMEOUT, PROXY_WOKEN, PROXY_FULL, PROXY_INTERRUPTED };

/* A message as it arrives: its header, and its payload's bytes, which
 * `owner` holds (a reference may be taken) or, when owner is NULL, the
 * caller must copy before it returns. */
typedef struct proxy_arrival {
    const wire_header *h;
    const char *payload;
    size_t payload_len;
    blob *owner;
} proxy_arrival;

/* One wait (docs/proxy.md, "The one wait"): receives until done(ctx) says
 * so, the deadline (a clock_now() time; < 0: none) passes, a watched
 * descriptor is readable (with watched set), or the buffer is full while
 * take cannot use what is in it. take(ctx, m) is offered every message as
 * it arrives: 1 takes it (it is the caller's then: nothing is kept), 0
 * leaves it to the buffer. */
typedef struct proxy_wait_spec {
    double deadline;
    int (*take)(void *ctx, const proxy_arrival *m);
    int (*done)(void *ctx);
    void *ctx;
    int watched;
    int uninterruptible; /* a signal does not end it (leaving within the linger) */
} proxy_wait_spec;
int proxy_wait(proxy *p, const proxy_wait_spec *w);

/* More descriptors for the one wait (a file watcher, say): when one becomes
 * readable, a wait with `watched` set returns PROXY_WOKEN. */
#define PROXY_MAX_WATCHED_FDS 4
int proxy_watch_fd(proxy *p, int fd); /* 0, or -1 when PROXY_MAX_WATCHED_FDS are watched */
void proxy_unwatch_fd(proxy *p, int fd);

#endif
