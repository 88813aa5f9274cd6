/* events_table.h: the insides of an events_table, shared by the files that
 * implement events.h's matcher. Data flows one way: a file calls only files
 * listed below it.
 *
 *   events_inherit.c  a new table that continues an old one (a reload)
 *   events_table.c    registering events, peers and percentages, clear, stats
 *   events_push.c     offering a message to every event
 *   events_fire.c     handing out satisfied events
 *   events_buffer.c   a unit's ring of slot ids, its bound, the list of units
 *                     that hold messages
 *   events_index.c    which units a message's source and tag reach
 *   events_tree.c     an event's nodes and their satisfaction
 *   events_ready.c    the events that may fire
 *   events_slots.c    slot ids;  events_peerset.c  peer names
 *
 * The last five know nothing of the table. */
#ifndef MARO_EVENTS_TABLE_H
#define MARO_EVENTS_TABLE_H

#include <stdlib.h>

#include "base/log.h"
#include "events/events.h"
#include "events/events_index.h"
#include "events/events_peerset.h"
#include "events/events_ready.h"
#include "events/events_slots.h"
#include "events/events_tree.h"

struct events_table {
    size_t max_buffered; /* per unit, unless its amount is larger */
    events_event **events;
    events_node **roots; /* roots[i] == events[i]->root */
    size_t nevents, events_cap;
    events_node **pct; /* units with a percentage amount */
    size_t npct, pct_cap, nunits;
    events_node **held; /* the units that hold messages, in no order; room for all */
    size_t nheld, held_cap;

    events_index index;
    events_slots slots;
    uint64_t push_seq; /* pushes so far: slots' seq, roots' stamp */
    events_ready ready;
    events_peerset peers;

    /* Scratch, sized when events are added so that a push never allocates. */
    events_node **claimed; /* per event: the unit that takes the message */
    events_node **taken;   /* the units an event hands over */
    size_t taken_cap;
    uint32_t *gather; /* the slots an event hands over */
    size_t gather_cap;

    size_t buffered; /* ring entries over all units */
    uint64_t pushed, ignored, fired, dropped;
    log_limiter drop_warn;
};

/* Grows array p (capacity *cap elements of size bytes) to hold want,
 * doubling; the result goes to *out (p itself when it is big enough). 0, or
 * -1 when out of memory (p untouched). Use through EVENTS_RESERVE. */
static inline int events_grow(void *p, size_t *cap, size_t want, size_t size, void **out) {
    *out = p;
    if (*cap >= want) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < want) n *= 2;
    void *q = realloc(p, n * size);
    if (!q) return -1;
    *out = q;
    *cap = n;
    return 0;
}

/* EVENTS_RESERVE(array, capacity, want): 0, or -1; needs `void *grown` in scope. */
#define EVENTS_RESERVE(arr, capv, want)                                               \
    (events_grow((arr), &(capv), (want), sizeof *(arr), &grown) == 0 ? ((arr) = grown, 0) \
                                                                      : -1)

#endif
