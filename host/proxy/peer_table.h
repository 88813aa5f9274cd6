/* peer_table.h: the peers a proxy knows, by name: live ones, and ones that
 * left but are expected back (enable_rejoin), with the messages kept for
 * them while they are down. Data only: connecting, sending and discovery
 * are other files' business. */
#ifndef MARO_PEER_TABLE_H
#define MARO_PEER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/blob.h"
#include "base/strmap.h"
#include "discovery/registration.h"
#include "proxy/senders.h"
#include "transport/transport.h"
#include "wire/header.h"

enum { PEER_LIVE = 1, PEER_DOWN = 2 };

/* A message kept for a peer that is down: its header (strings in data[])
 * and its payload. */
typedef struct kept_msg {
    struct kept_msg *next;
    wire_header h;
    blob *payload;
    char data[];
} kept_msg;

typedef struct peer {
    char *name, *type, *address;
    char incarnation[REGISTRATION_INCARNATION_HEX + 1];
    char curve[REGISTRATION_CURVE_Z85 + 1]; /* its CURVE key in a closed group */
    uint32_t key;          /* sessions name their destination by this number */
    int state;             /* PEER_LIVE or PEER_DOWN */
    transport_peer *tp;
    double missing_since;  /* when a lookup first missed it; 0: seen */
    double goodbye_at;     /* when its goodbye was seen while it still owed acknowledgements */
    double left, expires;  /* PEER_DOWN: when it went down; when it is forgotten */
    kept_msg *kept_head, *kept_tail;
    size_t n_kept;
} peer;

typedef struct peer_table {
    peer **all;
    size_t n, cap;
    strmap by_name;
    uint32_t next_key;
    unsigned long version; /* grows with every change a script can see (proxy.peers) */
} peer_table;

void peer_table_init(peer_table *t);
/* Frees every entry and its kept messages; the caller disconnected them. */
void peer_table_free(peer_table *t);
peer *peer_table_find(const peer_table *t, const char *name, size_t len);
/* By key, in a walk over the table: for entries that may have gone meanwhile. */
peer *peer_table_find_key(const peer_table *t, uint32_t key);
/* The peer a sender is: looked up again only when the table changed. */
peer *peer_table_find_sender(const peer_table *t, sender *s);
/* A new live entry (tp not set yet), or NULL when out of memory. */
peer *peer_table_add(peer_table *t, const registration *r);
/* Takes the entry out and frees it with its kept messages. */
void peer_table_remove(peer_table *t, peer *p);
/* Address and incarnation of a member that came back. 0, or -1 (OOM). */
int peer_table_update(peer_table *t, peer *p, const registration *r);
size_t peer_table_live_of_type(const peer_table *t, const char *type);

/* Keeps a message for a peer that is down. 0, or -1 when out of memory. */
int peer_keep(peer *p, const wire_header *h, blob *payload);
void peer_drop_kept(peer *p); /* the oldest */

#endif
