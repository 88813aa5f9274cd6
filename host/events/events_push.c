/* events_push.c: offering a message to every registered event (events.h,
 * events_push.h). A push costs the index lookups plus the units that do
 * match: events that cannot match cost nothing. */
#include "events/events_push.h"

#include "events/events_buffer.h"

/* Claims, for each event not claimed by this push yet, its first unit
 * filed in e (root->stamp marks the events claimed). */
static inline size_t claim(events_table *t, const events_index_entry *e, size_t nclaimed) {
    for (uint32_t i = 0; i < e->n; i++) {
        events_node *u = e->units[i];
        if (u->root->stamp != t->push_seq) {
            u->root->stamp = t->push_seq;
            t->claimed[nclaimed++] = u;
        }
    }
    return nclaimed;
}

size_t events_match(events_table *t, wire_slice source, wire_slice tag) {
    events_index_entry *const *found;
    size_t nfound = events_index_find(&t->index, source, tag, &found);
    t->push_seq++;
    size_t nclaimed = 0;
    for (size_t k = 0; k < nfound; k++) nclaimed = claim(t, found[k], nclaimed);
    return nclaimed;
}

long events_table_push(events_table *t, wire_slice source, wire_slice tag, uint32_t *slot,
                       events_release_fn release, void *ctx) {
    *slot = 0;
    size_t nclaimed = events_match(t, source, tag);
    if (nclaimed == 0) {
        t->ignored++;
        return 0;
    }
    for (size_t i = 0; i < nclaimed; i++)
        if (events_buffer_reserve(t, t->claimed[i]) != 0) return -1;
    uint32_t s = events_slots_take(&t->slots);
    if (!s) return -1;
    t->slots.refs[s] = (uint32_t)nclaimed;
    t->slots.seq[s] = t->push_seq;
    for (size_t i = 0; i < nclaimed; i++)
        events_buffer_append(t, t->claimed[i], s, release, ctx);
    t->pushed++;
    *slot = s;
    return (long)nclaimed;
}
