/* events_buffer.h: the buffer of each unit event, a ring of slot ids
 * (oldest at head), and the bound on it.
 *
 * A unit holds at most max(max_buffered, its required amount) messages; a
 * message beyond that drops the oldest, which is logged at a bounded rate
 * and counted. Every change of a count refreshes the unit's satisfaction.
 *
 * The table lists the units that hold messages (t->held), so that emptying
 * them all costs those units, not every unit of every registered event: a
 * clear() of a table with 10,000 events and 8 messages costs 8 units. */
#ifndef MARO_EVENTS_BUFFER_H
#define MARO_EVENTS_BUFFER_H

#include "events/events_table.h"

static inline size_t events_buffer_limit(const events_table *t, const events_node *u) {
    return u->required > t->max_buffered ? u->required : t->max_buffered;
}

/* Doubles u's ring, or starts it inline; 0, or -1 when out of memory. */
int events_buffer_grow(events_node *u);

/* Room for one more slot id in u's ring, unless u is at its limit (then
 * events_buffer_append drops instead); 0, or -1 when out of memory. */
static inline int events_buffer_reserve(const events_table *t, events_node *u) {
    if (u->count < u->cap || u->count >= events_buffer_limit(t, u)) return 0;
    return events_buffer_grow(u);
}

/* Appends slot s (reserved with events_buffer_reserve) to u, dropping the
 * oldest first when u is full; drops let go of their slot (release). */
void events_buffer_append(events_table *t, events_node *u, uint32_t s, events_release_fn release,
                          void *ctx);

/* Lists u, which has just received its first message, among the units that hold some. */
static inline void events_buffer_list(events_table *t, events_node *u) {
    t->held[t->nheld++] = u;
    u->held_at = (uint32_t)t->nheld;
}

/* Takes u, which has just let go of its last message, off that list: the
 * last unit listed takes its place. */
static inline void events_buffer_unlist(events_table *t, events_node *u) {
    events_node *last = t->held[--t->nheld];
    t->held[u->held_at - 1] = last;
    last->held_at = u->held_at;
    u->held_at = 0;
}

/* Takes the oldest slot id out of u (which holds one); the caller lets go
 * of it (events_buffer_release) and refreshes u. */
static inline uint32_t events_buffer_pop(events_table *t, events_node *u) {
    uint32_t s = u->ring[u->head];
    u->head = (u->head + 1) & (u->cap - 1);
    if (--u->count == 0) events_buffer_unlist(t, u);
    t->buffered--;
    return s;
}

/* Drops one reference to slot s; when it was the last, release says so. */
static inline void events_buffer_release(events_table *t, uint32_t s, events_release_fn release,
                                         void *ctx) {
    if (events_slots_unref(&t->slots, s) && release) release(ctx, s);
}

/* Room for count slot ids in u's ring, which is empty; 0 or -1. */
int events_buffer_fit(events_node *u, uint32_t count);

/* Empties every unit, without release calls; costs the units that hold
 * messages. */
void events_buffer_clear_all(events_table *t);

#endif
