/* events_buffer.c: per-unit rings of slot ids and the memory bound
 * (events_buffer.h). */
#include "events/events_buffer.h"

#include <stdio.h>
#include <string.h>

int events_buffer_grow(events_node *u) {
    if (u->cap == 0) {
        u->ring = u->inline_ring;
        u->cap = EVENTS_INLINE_RING;
        u->head = 0;
        return 0;
    }
    uint32_t cap = u->cap * 2;
    uint32_t *r = malloc((size_t)cap * sizeof *r);
    if (!r) return -1;
    for (uint32_t i = 0; i < u->count; i++) r[i] = u->ring[(u->head + i) & (u->cap - 1)];
    if (u->ring != u->inline_ring) free(u->ring);
    u->ring = r;
    u->cap = cap;
    u->head = 0;
    return 0;
}

static void warn_drop(events_table *t, const events_node *u, size_t limit) {
    unsigned long held = 0;
    if (log_level() < LOG_WARN || !log_limiter_pass(&t->drop_warn, EVENTS_WARN_INTERVAL, &held))
        return;
    char more[96] = "";
    if (held) snprintf(more, sizeof more, " (%lu more drops since the last warning)", held);
    log_warn("RegisterTable: event %s: unit \"%s\" already holds %zu messages (max_buffered); "
             "dropped its oldest%s",
             u->ev->label, u->x->text, limit, more);
}

void events_buffer_append(events_table *t, events_node *u, uint32_t s, events_release_fn release,
                          void *ctx) {
    size_t limit = events_buffer_limit(t, u);
    while (u->count >= limit) {
        events_buffer_release(t, events_buffer_pop(t, u), release, ctx);
        t->dropped++;
        warn_drop(t, u, limit);
    }
    u->ring[(u->head + u->count) & (u->cap - 1)] = s;
    if (u->count++ == 0) events_buffer_list(t, u);
    t->buffered++;
    events_unit_refresh(&t->ready, u);
}

int events_buffer_fit(events_node *u, uint32_t count) {
    if (count <= u->cap) return 0;
    if (count <= EVENTS_INLINE_RING) {
        u->ring = u->inline_ring;
        u->cap = EVENTS_INLINE_RING;
        return 0;
    }
    uint32_t cap = 4;
    while (cap < count) cap *= 2;
    uint32_t *r = malloc((size_t)cap * sizeof *r);
    if (!r) return -1;
    if (u->ring && u->ring != u->inline_ring) free(u->ring);
    u->ring = r;
    u->cap = cap;
    return 0;
}

void events_buffer_clear_all(events_table *t) {
    /* A satisfied node has a satisfied unit below it, and a satisfied unit
     * holds a message (required >= 1): refreshing the units listed here
     * leaves every node of every event unsatisfied. */
    for (size_t i = 0; i < t->nheld; i++) {
        events_node *u = t->held[i];
        if (u->cap > 64) { /* keep small rings for the next messages */
            free(u->ring);
            u->ring = NULL;
            u->cap = 0;
        }
        u->head = u->count = 0;
        u->held_at = 0;
        events_unit_refresh(&t->ready, u);
    }
    t->nheld = 0;
    t->buffered = 0;
}
