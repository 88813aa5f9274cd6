/* events_index.h: which unit events a message's source and tag can reach.
 *
 * Every unit event is filed under the key (tag or "*", source prefix) in
 * one hash table; "*" as source is the empty prefix. A lookup hashes the
 * message's source once and probes only the prefix lengths that some unit
 * uses, with the message's tag and with "*": events that cannot match a
 * message cost nothing. The index knows units only as pointers to hand
 * back; the caller decides which of them take the message. */
#ifndef MARO_EVENTS_INDEX_H
#define MARO_EVENTS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "events/events.h"
#include "wire/header.h"

struct events_node;

/* The units filed under one key. Packed so that a lookup touches one cache
 * line: the key bytes and the first unit live in the entry. */
typedef struct events_index_entry {
    uint64_t hash;
    struct events_node **units; /* in registration order; &first while there is one */
    uint32_t n, cap;
    uint16_t tag_len, prefix_len;
    uint8_t tag_any;
    struct events_node *first;
    char key[]; /* tag bytes, then prefix bytes */
} events_index_entry;

typedef struct events_index_len {
    uint32_t len, n_exact, n_wild; /* units with this prefix length and an exact / "*" tag */
} events_index_len;

typedef struct events_index {
    events_index_entry **slots; /* open addressing, linear probing */
    size_t mask, nentries;
    events_index_len *lens; /* ascending by len */
    size_t nlens, lens_cap;
    events_index_entry **found; /* what events_index_find returns */
    size_t found_cap;
} events_index;

void events_index_free(events_index *ix);

/* Makes sure that up to `more` units, each with a key reserved this way,
 * can be added without allocating: the entry of unit x's key exists with
 * room for `more` more units, and there is room for `more` new prefix
 * lengths. 0, or -1 when out of memory (what was made stays, empty). */
int events_index_reserve(events_index *ix, const events_expr *x, size_t more);

/* Files unit (parsed as x, whose key was reserved) under its key, after the
 * units already there. Cannot fail. */
void events_index_add(events_index *ix, const events_expr *x, struct events_node *unit);

/* The entries whose key matches a message from source with tag, in the
 * order that decides which unit of an event takes it: longest prefix
 * first and, at one length, the exact tag before "*". Sets *out to them
 * (valid until the next call) and returns how many. Never allocates. */
size_t events_index_find(events_index *ix, wire_slice source, wire_slice tag,
                         events_index_entry *const **out);

#endif
