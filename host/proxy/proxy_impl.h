/* proxy_impl.h: a proxy's state, shared by the files of host/proxy/. Each
 * part is written by one file (named beside it) and read by the files
 * above it; data flows one way:
 *
 *   proxy.c (open, close) and send.c (sends) and receive.c (receives)
 *     -> closed_group.c (what a group key adds), loop.c (the one wait)
 *       -> membership.c (discovery -> peer table), inbox.c (frames -> buffer)
 *         -> outbox.c (one message to one peer now, or kept)
 *           -> traffic.c (the debug log of messages)
 *           -> peer_table.c, senders.c, rxbuf.c (data only)
 *
 * Not for other modules: they use proxy.h. */
#ifndef MARO_PROXY_IMPL_H
#define MARO_PROXY_IMPL_H

#include <stdatomic.h>

#include "base/log.h"
#include "discovery/discovery.h"
#include "keys/group_key.h"
#include "proxy/peer_table.h"
#include "proxy/proxy.h"
#include "proxy/rxbuf.h"
#include "proxy/senders.h"
#include "session/session.h"
#include "transport/transport.h"

struct proxy {
    char *group, *type, *name;
    uint8_t incarnation[WIRE_INCARNATION_LEN];
    char incarnation_hex[REGISTRATION_INCARNATION_HEX + 1];
    proxy_config cfg; /* its strings and arrays are not used after joining */
    discovery *disc;
    transport *tr;
    session_table *sessions;
    int closing;
    uint64_t lost_while_closing; /* owed to peers that left during close's wait */
    double started;
    /* closed_group.c: a closed group (group_key): what the key gives, and
     * the discovery the transport's handler thread asks who a connecting key
     * is (set once discovery is open; the transport closes before it). */
    int closed;
    group_secrets secrets;
    _Atomic(discovery *) authorizer;
    atomic_int authorizer_stop; /* closing: a key check still waiting gives up */

    /* membership.c */
    peer_table peers;
    /* The entry membership_find found last, while the table's version stays:
     * a stream of sends to one peer looks its name up once. */
    peer *last_found;
    unsigned long last_found_version;
    char **types; /* followed in discovery */
    size_t n_types;
    proxy_expected *expected, *minimal;
    size_t n_expected, n_minimal;
    uint64_t seen_version;  /* discovery's version last applied */
    double next_membership; /* when membership has work on time alone */
    double next_stats;
    log_limiter refresh_lim;

    /* inbox.c */
    transport_rx rx;        /* the transmission being read, when rx_open */
    wire_packet_reader reader;
    int rx_open;
    unsigned long rx_opened; /* transmissions opened so far */
    sender *rx_sender;       /* who sent the open transmission; NULL: unknown */
    rxbuf buf;
    senders senders;
    unsigned long received, dropped, duplicates;
    log_limiter drop_lim, full_lim;

    /* outbox.c and send.c */
    unsigned long sent;

    /* traffic.c */
    log_limiter sent_lim, recv_lim;
    log_limiter oom_lim; /* rare failures that could repeat per message */

    /* loop.c */
    int watched[PROXY_MAX_WATCHED_FDS], n_watched;
};

/* "s" unless n is 1, for log lines and errors that count things. */
static inline const char *proxy_plural(unsigned long long n) { return n == 1 ? "" : "s"; }

#endif
