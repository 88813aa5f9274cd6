/* events_fire.c: handing satisfied events out, in registration order, and
 * consuming what they were given (events_table_fire in events.h).
 *
 * Counts only fall while firing, so firing never readies an event: the walk
 * over the ready bitmap moves forward only, and costs the events that fire. */
#include <string.h>

#include "events/events_buffer.h"

/* Lists the units whose messages a satisfied node hands over: all of an
 * AND, the first satisfied alternative of an OR. */
static size_t take(const events_node *n, events_node **out, size_t k) {
    if (n->op == EVENTS_UNIT) {
        out[k++] = (events_node *)n;
        return k;
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (!n->kids[i]->sat) continue;
        k = take(n->kids[i], out, k);
        if (n->op == EVENTS_OR) break;
    }
    return k;
}

/* The first `required` slots of each taken unit into t->gather, merged
 * oldest first; returns how many. */
static size_t gather(events_table *t, events_node **taken, size_t ntaken) {
    size_t total = 0;
    uint32_t pos[64];
    if (ntaken == 1 || ntaken > 64) { /* one unit, or too many to merge: in unit order */
        for (size_t i = 0; i < ntaken; i++) {
            events_node *u = taken[i];
            for (uint32_t k = 0; k < u->required; k++)
                t->gather[total++] = u->ring[(u->head + k) & (u->cap - 1)];
        }
        return total;
    }
    memset(pos, 0, sizeof pos);
    for (;;) {
        size_t best = ntaken;
        uint64_t best_seq = UINT64_MAX;
        for (size_t i = 0; i < ntaken; i++) {
            events_node *u = taken[i];
            if (pos[i] >= u->required) continue;
            uint64_t q = t->slots.seq[u->ring[(u->head + pos[i]) & (u->cap - 1)]];
            if (q < best_seq) {
                best_seq = q;
                best = i;
            }
        }
        if (best == ntaken) return total;
        events_node *u = taken[best];
        t->gather[total++] = u->ring[(u->head + pos[best]++) & (u->cap - 1)];
    }
}

/* Hands root's messages to fire once, then consumes them; 0 or -1 (out of memory). */
static int fire_event(events_table *t, events_node *root, events_fire_fn fire,
                      events_release_fn release, void *ctx) {
    size_t ntaken = take(root, t->taken, 0), total = 0;
    for (size_t k = 0; k < ntaken; k++) total += t->taken[k]->required;
    void *grown;
    if (EVENTS_RESERVE(t->gather, t->gather_cap, total) != 0) return -1;
    total = gather(t, t->taken, ntaken);
    fire(ctx, root->event, t->gather, total);
    for (size_t k = 0; k < ntaken; k++) {
        events_node *u = t->taken[k];
        for (uint32_t j = 0; j < u->required && u->count; j++)
            events_buffer_release(t, events_buffer_pop(t, u), release, ctx);
    }
    for (size_t k = 0; k < ntaken; k++) events_unit_refresh(&t->ready, t->taken[k]);
    t->fired++;
    return 0;
}

long events_table_fire(events_table *t, events_fire_fn fire, events_release_fn release,
                       void *ctx) {
    if (!t->ready.count) return 0;
    long fired = 0, i;
    size_t from = 0;
    /* An error raised inside fire (a Lua memory error) leaves the bits of
     * the events not consumed yet set. Each firing consumes at least one
     * message, so the inner loop ends. */
    while ((i = events_ready_lowest(&t->ready, &from)) >= 0) {
        events_node *root = t->roots[i];
        while (root->sat) {
            if (fire_event(t, root, fire, release, ctx) != 0) return -1;
            fired++;
        }
        events_ready_unset(&t->ready, (uint32_t)i);
    }
    return fired;
}
