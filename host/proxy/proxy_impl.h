/* proxy_impl.h: the proxy's state, shared by its files (proxy.c: joining,
 * leaving, sending; peers.c: the peer table; receive.c: receiving). Not for
 * other modules: they use proxy.h. */
#ifndef MARO_PROXY_IMPL_H
#define MARO_PROXY_IMPL_H

#include "base/log.h"
#include "discovery/discovery.h"
#include "proxy/proxy.h"
#include "session/session.h"
#include "transport/transport.h"

/* A message kept for a peer that is down (rejoin.c). */
typedef struct cached_msg {
    struct cached_msg *next;
    blob *header, *payload;
} cached_msg;

struct proxy_peer {
    char *name, *type, *address;
    transport_peer *tp; /* NULL: down, remembered in proxy.gone until expires */
    int seen;
    double left, expires;               /* when it went down; when it is forgotten */
    cached_msg *cache_head, *cache_tail; /* kept while down, oldest first */
    size_t n_cached;
};

struct proxy {
    char *group, *type, *name;
    proxy_config cfg; /* its strings are not used after joining */
    proxy_expected *expected;
    size_t n_expected;
    char **types; /* peer types followed in discovery */
    size_t n_types;
    discovery *disc;
    transport *tr;
    proxy_peer **peers;
    size_t n_peers, cap_peers;
    proxy_peer **gone; /* peers that left and are expected back (enable_rejoin) */
    size_t n_gone, cap_gone;
    proxy_expected *minimal;
    size_t n_minimal;
    unsigned long peers_version;
    session_table *sessions;
    rxbuf buf;
    rx_item scratch; /* the message being handed out, when it was never buffered */
    double next_refresh; /* 0: now (a change was announced) */
    unsigned ticks;
    int extra_fds[PROXY_MAX_WATCHED_FDS], n_extra, woken;
    unsigned long dropped;
    log_limiter drop_lim, full_lim, refresh_lim;
};

/* peers.c */
void proxy_refresh_peers(proxy *p);
void proxy_free_peer(proxy *p, proxy_peer *pp, int discard);
int proxy_follow_type(proxy *p, const char *type);

/* "s" unless n is 1, for log lines and errors that count messages. */
static inline const char *proxy_plural(size_t n) { return n == 1 ? "" : "s"; }

/* rejoin.c */
/* Keeps a peer that left as expected back (takes pp); -1 when out of memory
 * (then the caller frees it). */
int proxy_remember_peer(proxy *p, proxy_peer *pp);
/* The remembered peer of that name, taken out of the list, or NULL. */
proxy_peer *proxy_take_gone(proxy *p, const char *name);
proxy_peer *proxy_gone_named(proxy *p, const char *name);
/* Forgets remembered peers whose lifetime passed (a warning when messages
 * kept for them are dropped). */
void proxy_expire_gone(proxy *p);
void proxy_forget_gone(proxy *p); /* all of them, at close */
/* Keeps a message for a down peer; 0, or -1 with err. */
int proxy_cache_message(proxy *p, proxy_peer *pp, const char *header, size_t header_len,
                        blob *payload, char *err, size_t errlen);
/* Sends what was kept for live peers, as far as their queues take it now. */
void proxy_flush_caches(proxy *p);
void proxy_cache_pop(proxy_peer *pp); /* drops the oldest kept message */
void proxy_free_cache(proxy_peer *pp);

/* proxy.c */
/* Queues one message for a live peer, waiting while its queue is full. */
int proxy_send_live(proxy *p, proxy_peer *pp, const char *header, size_t header_len,
                    blob *payload, char *err, size_t errlen);

/* receive.c */
/* Waits for the network, a full queue (writable), signals, discovery and the
 * watched descriptors; returns the TRANSPORT_* bits. */
int proxy_wait_events(proxy *p, int readable, transport_peer *writable, double timeout);
/* Reads what has arrived; returns the first message match takes. */
rx_item *proxy_pump(proxy *p, proxy_match_fn match, void *ctx, int *full);

#endif
