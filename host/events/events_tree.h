/* events_tree.h: a registered event as a tree of nodes (units, AND, OR)
 * that knows at every moment whether it is satisfied.
 *
 * Satisfaction is kept up to date incrementally: a unit is satisfied when
 * it holds at least `required` messages; an AND node counts its satisfied
 * kids (nsat), an OR node is satisfied while one is; a root that becomes
 * satisfied sets its event's bit in the ready bitmap. A unit's buffer (a
 * ring of slot ids) lives in its node; events_buffer.c fills and empties it. */
#ifndef MARO_EVENTS_TREE_H
#define MARO_EVENTS_TREE_H

#include <stdint.h>

#include "events/events.h"
#include "events/events_ready.h"

#define EVENTS_INLINE_RING 2 /* slot ids a unit holds without an allocation */

typedef struct events_node events_node;
typedef struct events_event events_event;

/* The first 64 bytes are what a push touches. */
struct events_node {
    uint64_t stamp;       /* root: the push that last claimed this event */
    events_node *root;
    uint32_t *ring;       /* unit: slot ids, oldest at head; capacity a power of two */
    uint32_t cap, head, count;
    uint32_t required;    /* unit: messages needed: amount, or the percentage of peers */
    int sat;              /* satisfied now */
    uint32_t event;       /* the event's index */
    events_node *parent;  /* NULL at the root */
    uint32_t inline_ring[EVENTS_INLINE_RING];
    /* cold */
    int op;           /* enum events_op */
    uint32_t held_at; /* unit: 1 + its place in the table's list of units that hold
                       * messages, 0 while it holds none (events_buffer.h) */
    events_event *ev;
    events_node **kids; /* AND / OR */
    uint32_t nkids, nsat;
    const events_expr *x; /* unit: owned by ev->expr */
};

/* One registered event. */
struct events_event {
    uint32_t index;       /* registration order, from 0 */
    events_node *root;
    events_node **units;  /* in written order */
    uint32_t nunits;
    events_expr *expr;
    char *label;          /* how warnings name it */
};

/* The event of expr (taken: freed with the event, and on failure) with
 * that index and a copy of label; every unit needs 1 message until its
 * amount is set. NULL when out of memory. */
events_event *events_event_new(events_expr *expr, uint32_t index, const char *label);
void events_event_free(events_event *ev);

/* Sets n's satisfaction and carries the change up to the root. */
static inline void events_node_set(events_ready *ready, events_node *n, int sat) {
    while (n->sat != sat) {
        n->sat = sat;
        events_node *p = n->parent;
        if (!p) {
            if (sat) events_ready_set(ready, n->event);
            return;
        }
        p->nsat += sat ? 1u : (uint32_t)-1;
        sat = p->op == EVENTS_AND ? p->nsat == p->nkids : p->nsat > 0;
        n = p;
    }
}

/* Brings unit u's satisfaction in line with its count and requirement. */
static inline void events_unit_refresh(events_ready *ready, events_node *u) {
    events_node_set(ready, u, u->count >= u->required);
}

#endif
