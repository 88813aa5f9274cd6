/* events_slots.h: slot ids, the matcher's names for buffered messages.
 *
 * A message kept by k unit buffers takes one slot id with a reference count
 * of k; the owner of the table (register_table.c) keeps the message under
 * that id and forgets it when the count falls to zero. seq[] records the
 * push that made a slot, so that messages from several buffers can be handed
 * out oldest first. Id 0 means "none"; freed ids are reused first, which
 * keeps the owner's store dense. */
#ifndef MARO_EVENTS_SLOTS_H
#define MARO_EVENTS_SLOTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct events_slots {
    uint32_t *refs;     /* per id: the buffers holding it */
    uint64_t *seq;      /* per id: push order */
    uint32_t *free_ids; /* ids whose count fell to zero */
    size_t end;         /* ids 1..end-1 were handed out */
    size_t cap, nfree;
} events_slots;

void events_slots_init(events_slots *s);
void events_slots_free(events_slots *s);

/* A free id whose refs and seq the caller sets; 0 when out of memory. */
uint32_t events_slots_take(events_slots *s);

/* Drops one reference; 1 when it was the last and the id is free again. */
static inline int events_slots_unref(events_slots *s, uint32_t id) {
    if (--s->refs[id] != 0) return 0;
    s->free_ids[s->nfree++] = id;
    return 1;
}

/* Forgets every id at once: all are free again, and their counts are stale
 * (events_slots_take hands out an id without looking at them). */
static inline void events_slots_reset(events_slots *s) {
    s->end = 1;
    s->nfree = 0;
}

static inline size_t events_slots_live(const events_slots *s) { return s->end - 1 - s->nfree; }

#endif
