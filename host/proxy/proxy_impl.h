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

struct proxy_peer {
    char *name, *type, *address;
    transport_peer *tp;
    int seen;
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

/* receive.c */
/* Waits for the network, a full queue (writable), signals, discovery and the
 * watched descriptors; returns the TRANSPORT_* bits. */
int proxy_wait_events(proxy *p, int readable, transport_peer *writable, double timeout);
/* Reads what has arrived; returns the first message match takes. */
rx_item *proxy_pump(proxy *p, proxy_match_fn match, void *ctx, int *full);

#endif
