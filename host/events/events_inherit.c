/* events_inherit.c: a new table that continues an old one, for a reload
 * (events_table_inherit in events.h). The old table is only read: if
 * anything fails, the caller frees the new one and nothing was lost. */
#include <string.h>

#include "events/events_buffer.h"
#include "events/events_push.h"

typedef struct inherit_ctx {
    uint32_t *map; /* slot of t -> slot of n */
    uint32_t *rev; /* slot of n -> slot of t */
    size_t rev_cap;
} inherit_ctx;

/* A slot of n let go while re-matching (a unit at its limit): the message
 * it stood for is no longer held. */
static void inherit_release(void *ctx, uint32_t slot) {
    inherit_ctx *c = ctx;
    c->map[c->rev[slot]] = 0;
}

/* n's slot for t's slot s, made on first use with s's push order. 0 when out of memory. */
static uint32_t inherit_slot(events_table *n, const events_table *t, uint32_t s, inherit_ctx *c) {
    if (c->map[s]) return c->map[s];
    uint32_t ns = events_slots_take(&n->slots);
    void *grown;
    if (!ns || EVENTS_RESERVE(c->rev, c->rev_cap, (size_t)ns + 1) != 0) return 0;
    n->slots.refs[ns] = 0;
    n->slots.seq[ns] = t->slots.seq[s];
    c->rev[ns] = s;
    c->map[s] = ns;
    return ns;
}

/* Slot ids by push order, oldest first: a merge sort, since qsort has no
 * context argument in C11 to reach seq[]. */
static void sort_slots(uint32_t *s, uint32_t *tmp, size_t n, const uint64_t *seq) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_slots(s, tmp, h, seq);
    sort_slots(s + h, tmp, n - h, seq);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = seq[s[j]] < seq[s[i]] ? s[j++] : s[i++];
    while (i < h) tmp[k++] = s[i++];
    while (j < n) tmp[k++] = s[j++];
    memcpy(s, tmp, n * sizeof *s);
}

/* Which event of t each event of n continues: the first unused one with
 * the same expression, so that an event listed twice stays listed twice. */
static void pair_events(events_table *n, const events_table *t, events_inherit *out) {
    memset(out->continued, 0, t->nevents);
    for (size_t i = 0; i < n->nevents; i++) {
        out->from[i] = -1;
        for (size_t j = 0; j < t->nevents; j++) {
            if (out->continued[j] || !events_expr_equal(n->events[i]->expr, t->events[j]->expr))
                continue;
            out->continued[j] = 1;
            out->from[i] = (long)j;
            break;
        }
    }
}

/* A continued event keeps its buffers as they are: same units, same
 * order, so nothing it already handed out can come back to it. 0 or -1. */
static int copy_buffers(events_table *n, const events_table *t, const events_inherit *out,
                        inherit_ctx *c) {
    for (size_t i = 0; i < n->nevents; i++) {
        if (out->from[i] < 0) continue;
        const events_event *old = t->events[out->from[i]];
        events_event *ev = n->events[i];
        for (uint32_t k = 0; k < ev->nunits; k++) {
            const events_node *ou = old->units[k];
            events_node *u = ev->units[k];
            if (events_buffer_fit(u, ou->count) != 0) return -1;
            for (uint32_t m = 0; m < ou->count; m++) {
                uint32_t s = ou->ring[(ou->head + m) & (ou->cap - 1)];
                uint32_t ns = inherit_slot(n, t, s, c);
                if (!ns) return -1;
                n->slots.refs[ns]++;
                u->ring[m] = ns;
            }
            u->head = 0;
            u->count = ou->count;
            if (u->count) events_buffer_list(n, u);
            n->buffered += ou->count;
            events_unit_refresh(&n->ready, u);
        }
    }
    return 0;
}

/* A new event is offered every message t still holds, oldest first, as if
 * it had been registered when they arrived. 0 or -1. */
static int rematch(events_table *n, const events_table *t, events_key_fn key, void *ctx,
                   events_inherit *out, inherit_ctx *c) {
    int rc = -1;
    size_t nlive = 0;
    uint32_t *live = malloc(t->slots.end * sizeof *live), *tmp = malloc(t->slots.end * sizeof *tmp);
    if (!live || !tmp) goto done;
    for (uint32_t s = 1; s < t->slots.end; s++)
        if (t->slots.refs[s]) live[nlive++] = s;
    sort_slots(live, tmp, nlive, t->slots.seq);
    for (size_t i = 0; i < nlive; i++) {
        wire_slice source, tag;
        if (key(ctx, live[i], &source, &tag) != 0) continue;
        size_t nclaimed = events_match(n, source, tag), k = 0;
        for (size_t j = 0; j < nclaimed; j++) /* continued events saw it already */
            if (out->from[n->claimed[j]->event] < 0) n->claimed[k++] = n->claimed[j];
        if (k == 0) continue;
        for (size_t j = 0; j < k; j++)
            if (events_buffer_reserve(n, n->claimed[j]) != 0) goto done;
        uint32_t ns = inherit_slot(n, t, live[i], c);
        if (!ns) goto done;
        n->slots.refs[ns] += (uint32_t)k;
        for (size_t j = 0; j < k; j++)
            events_buffer_append(n, n->claimed[j], ns, inherit_release, c);
        out->rematched++;
    }
    for (size_t i = 0; i < nlive; i++)
        if (!c->map[live[i]]) out->released++;
    rc = 0;
done:
    free(live);
    free(tmp);
    return rc;
}

int events_table_inherit(events_table *n, const events_table *t, events_key_fn key, void *ctx,
                         events_inherit *out) {
    inherit_ctx c = {out->map, NULL, 0};
    n->max_buffered = t->max_buffered;
    n->pushed = t->pushed;
    n->ignored = t->ignored;
    n->fired = t->fired;
    n->dropped = t->dropped;
    n->drop_warn = t->drop_warn;
    n->push_seq = t->push_seq;
    out->rematched = out->released = 0;
    if (events_table_set_peers(n, t->peers.names, t->peers.n) < 0) return -1;
    memset(out->map, 0, t->slots.end * sizeof *out->map);
    pair_events(n, t, out);
    int rc = copy_buffers(n, t, out, &c) == 0 && rematch(n, t, key, ctx, out, &c) == 0 ? 0 : -1;
    free(c.rev);
    return rc;
}
