/* events_table.c: an events_table's life (events.h): registering events,
 * the peers behind percentages, clear, stats. Pushing is events_push.c,
 * firing events_fire.c, a reload events_inherit.c. */
#include <string.h>

#include "events/events_buffer.h"
#include "events/events_table.h"

events_table *events_table_new(size_t max_buffered) {
    events_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->max_buffered = max_buffered ? max_buffered : EVENTS_DEFAULT_MAX_BUFFERED;
    events_slots_init(&t->slots);
    return t;
}

void events_table_free(events_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nevents; i++) events_event_free(t->events[i]);
    events_index_free(&t->index);
    events_slots_free(&t->slots);
    events_ready_free(&t->ready);
    events_peerset_free(&t->peers);
    free(t->events);
    free(t->roots);
    free(t->pct);
    free(t->held);
    free(t->claimed);
    free(t->taken);
    free(t->gather);
    free(t);
}

/* ---- percentages ----------------------------------------------------------- */

static void percent_update(events_table *t, events_node *u) {
    const events_expr *x = u->x;
    uint64_t n = x->source_any ? t->peers.n
                               : events_peerset_count_prefix(&t->peers, x->source, x->source_len);
    uint64_t r = (n * x->amount + 99) / 100; /* rounded up */
    u->required = r < 1 ? 1 : (uint32_t)r;
    events_unit_refresh(&t->ready, u);
}

int events_table_set_peers(events_table *t, const wire_slice *names, size_t n) {
    int changed = events_peerset_set(&t->peers, names, n);
    if (changed > 0)
        for (size_t i = 0; i < t->npct; i++) percent_update(t, t->pct[i]);
    return changed;
}

size_t events_table_percent_units(const events_table *t) { return t->npct; }

/* ---- registering ------------------------------------------------------------- */

/* Room for one more event in the arrays indexed by event. */
static int reserve_event(events_table *t) {
    void *grown;
    size_t cap = t->events_cap;
    if (EVENTS_RESERVE(t->events, cap, t->nevents + 1) != 0) return -1;
    if (cap == t->events_cap) return 0;
    events_node **roots = realloc(t->roots, cap * sizeof *roots);
    if (!roots) return -1;
    t->roots = roots;
    events_node **c = realloc(t->claimed, cap * sizeof *c);
    if (!c) return -1;
    t->claimed = c;
    if (events_ready_reserve(&t->ready, cap) != 0) return -1;
    t->events_cap = cap;
    return 0;
}

long events_table_add(events_table *t, events_expr *expr, const char *label) {
    void *grown;
    events_event *ev = events_event_new(expr, (uint32_t)t->nevents, label ? label : "?");
    if (!ev) return -1;
    size_t nunits = ev->nunits;

    /* Everything that can fail first; from "commit" on nothing allocates. */
    if (reserve_event(t) != 0 || EVENTS_RESERVE(t->pct, t->pct_cap, t->npct + nunits) != 0 ||
        EVENTS_RESERVE(t->taken, t->taken_cap, t->nunits + nunits) != 0 ||
        EVENTS_RESERVE(t->held, t->held_cap, t->nunits + nunits) != 0)
        goto oom;
    for (uint32_t i = 0; i < ev->nunits; i++)
        if (events_index_reserve(&t->index, ev->units[i]->x, nunits) != 0) goto oom;

    /* commit */
    for (uint32_t i = 0; i < ev->nunits; i++) {
        events_node *u = ev->units[i];
        events_index_add(&t->index, u->x, u);
        if (u->x->percent) {
            t->pct[t->npct++] = u;
            percent_update(t, u);
        }
    }
    t->roots[t->nevents] = ev->root;
    t->events[t->nevents++] = ev;
    t->nunits += nunits;
    return (long)ev->index;
oom:
    events_event_free(ev);
    return -1;
}

/* ---- the rest ------------------------------------------------------------------ */

size_t events_table_ready(const events_table *t) { return t->ready.count; }

void events_table_clear(events_table *t) {
    events_buffer_clear_all(t);
    events_ready_clear(&t->ready);
    events_slots_reset(&t->slots);
}

void events_table_stats(const events_table *t, events_stats *out) {
    *out = (events_stats){.events = t->nevents,
                          .units = t->nunits,
                          .messages = events_slots_live(&t->slots),
                          .buffered = t->buffered,
                          .peers = t->peers.n,
                          .pushed = t->pushed,
                          .ignored = t->ignored,
                          .fired = t->fired,
                          .dropped = t->dropped};
}

const char *events_table_label(const events_table *t, size_t i) {
    return i < t->nevents ? t->events[i]->label : NULL;
}

size_t events_table_slot_end(const events_table *t) { return t->slots.end; }
