/* proxy.h: a member of a group. Joining registers it with discovery and
 * connects it to its expected peers; then it sends encoded messages to
 * peers by name and receives messages in arrival order, keeping those that
 * arrive while it waits for particular sessions. The Lua binding
 * (proxy_lua.c) builds on these calls. */
#ifndef MARO_PROXY_H
#define MARO_PROXY_H

#include <stddef.h>

#include "base/blob.h"
#include "proxy/rxbuf.h"
#include "wire/header.h"

typedef struct proxy proxy;
typedef struct proxy_peer proxy_peer;

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
    const char *advertised_host; /* NULL: the local address of the route to Redis */
    const char *bind_host;       /* NULL: every interface */
    const proxy_expected *expected;
    size_t n_expected;
    int max_redis_connect_retries;
    double initial_redis_connect_retry_interval;
    int max_peer_discovery_retries;
    double initial_peer_discovery_retry_interval, max_peer_discovery_retry_interval;
    double heartbeat_interval, heartbeat_expiry, peer_refresh_interval;
    size_t max_buffered_messages, max_sessions;
    double send_timeout; /* how long a send waits for a full queue; < 0: forever */
    double linger;       /* seconds queued messages may still leave after close */
    int send_hwm, recv_hwm;
    long long max_message_size;
    /* Rejoin (docs/proxy.md, "Rejoining"): a peer that leaves is remembered
     * for peers_catch_lifetime seconds as expected back; with the cache,
     * messages sent to it meanwhile are kept (at most max_cache per peer)
     * and delivered in order when it is back. */
    int enable_rejoin, enable_cache;
    int take_over_name; /* the name's previous holder is dead: register over it */
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
 * missing; *stopped set when a signal interrupted the joining. */
proxy *proxy_open(const proxy_config *c, int *stopped, char *err, size_t errlen);
/* Leaves the group (queued messages still go out within the linger) and frees. */
void proxy_close(proxy *p);

const char *proxy_name(const proxy *p);
const char *proxy_group(const proxy *p);
const char *proxy_type(const proxy *p);
const char *proxy_address(const proxy *p); /* where peers reach it, "tcp://host:port" */
unsigned long proxy_peers_version(const proxy *p);
unsigned long proxy_dropped(const proxy *p); /* received messages refused so far */
size_t proxy_buffered(const proxy *p);       /* received, not taken by a receive yet */
size_t proxy_peer_count(const proxy *p);
proxy_peer *proxy_peer_at(const proxy *p, size_t i);
const char *proxy_peer_name(const proxy_peer *pp);
const char *proxy_peer_type(const proxy_peer *pp);

/* Refreshes the peer table from discovery when it is due. */
void proxy_tick(proxy *p);

/* The peer of that name; an unknown name is looked up in the group and
 * connected. NULL with err naming the name and the group. */
proxy_peer *proxy_find_peer(proxy *p, const char *name, char *err, size_t errlen);

/* Waits (receiving into the buffer meanwhile) until at least minimal_peers
 * live peers of that type are connected. 0, or -1 with err saying how many
 * of how many after the timeout (timeout_for_minimal_peer_number). */
int proxy_await_minimal(proxy *p, const char *type, char *err, size_t errlen);
int proxy_wants_minimal(const proxy *p); /* nonzero when minimal_peers is set */

/* Queues one message for a peer, waiting (and buffering what arrives
 * meanwhile) while its queue is full. A peer that is down but expected back
 * (enable_rejoin) gets it kept in its cache, or -1 with err when there is no
 * cache or it is full. 0, or -1 with err. */
int proxy_send(proxy *p, proxy_peer *pp, const char *header, size_t header_len, blob *payload,
               char *err, size_t errlen);

/* Remembers a session this proxy started, to follow its stages. */
void proxy_session_start(proxy *p, wire_slice session_id, int type, int replies);
int proxy_session_stage(proxy *p, wire_slice session_id);

/* Chooses messages: returns 1 to take one (and may count it), 0 to leave it. */
typedef int (*proxy_match_fn)(void *ctx, const wire_header *h);

/* The oldest buffered message that match takes (any when match is NULL), or
 * NULL. Every message handed out goes back through proxy_release. */
rx_item *proxy_take_buffered(proxy *p, proxy_match_fn match, void *ctx);

enum { PROXY_GOT = 0, PROXY_TIMEOUT, PROXY_FULL, PROXY_WOKEN };
#define PROXY_NO_WAIT (-2.0) /* a deadline that only takes what has arrived */
/* Receives from the network until a message that match takes arrives
 * (returned; valid until the next receiving call), the deadline passes (a
 * clock_now() time; < 0: none), a watched descriptor is readable
 * (PROXY_WOKEN), or the buffer is full (PROXY_FULL, logged).
 * Messages not taken are buffered. */
rx_item *proxy_wait_next(proxy *p, double deadline, proxy_match_fn match, void *ctx,
                         int *status);
/* Gives back a message that a call above handed out. */
void proxy_release(proxy *p, rx_item *it);

/* More descriptors for the one wait (a file watcher, say): when one becomes
 * readable, proxy_wait_next returns NULL with PROXY_WOKEN, and a Lua receive
 * returns as if its timeout ran out, so the caller can attend to it. */
#define PROXY_MAX_WATCHED_FDS 4
int proxy_watch_fd(proxy *p, int fd); /* 0, or -1 when PROXY_MAX_WATCHED_FDS are watched */
void proxy_unwatch_fd(proxy *p, int fd);

#endif
