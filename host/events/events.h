/* events.h: conditional events, the matcher behind maro.RegisterTable
 * (docs/events.md). This half knows nothing of Lua: a buffered message is a
 * slot id, and the binding (register_table.c) keeps the message under it.
 *
 *   events_parse.c  the event language -> an events_expr tree
 *   events_table.c  the matcher: registering, peers, clear (events_table.h
 *                   lists the files behind it: push, fire, inherit, ...)
 */
#ifndef MARO_EVENTS_H
#define MARO_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "wire/header.h"

#define EVENTS_MAX_DEPTH 32                 /* nesting of combinations */
#define EVENTS_MAX_AMOUNT 1000000000u       /* an absolute amount above this is refused */
#define EVENTS_DEFAULT_MAX_BUFFERED 4096    /* per unit event, see events_table_new */
#define EVENTS_WARN_INTERVAL 10.0           /* seconds between two "dropped" warnings */

enum events_op { EVENTS_UNIT = 0, EVENTS_AND, EVENTS_OR };

/* A parsed conditional event: a unit, or an AND/OR of sub-events. */
typedef struct events_expr {
    int op;
    /* EVENTS_UNIT: text is the unit as written; source and tag point into it. */
    char *text;
    const char *source, *tag;
    size_t source_len, tag_len;
    int source_any, tag_any; /* "*" */
    int percent;             /* amount is a percentage (1..100) of the matching peers */
    uint32_t amount;
    /* EVENTS_AND, EVENTS_OR */
    struct events_expr **kids;
    size_t nkids;
} events_expr;

/* ---- events_parse.c ---------------------------------------------------- */

/* Parses "source:tag:amount". Returns NULL with a reason in err (which does
 * not repeat the text) when the syntax is wrong or memory ran out. */
events_expr *events_parse_unit(const char *s, size_t len, char *err, size_t errlen);
/* EVENTS_AND / EVENTS_OR for "AND", "&&", "OR", "||"; else -1. */
int events_parse_op(const char *s, size_t len);
/* Combines kids[0..n) (taken, also on failure) under op; NULL when out of memory. */
events_expr *events_expr_combine(int op, events_expr **kids, size_t n);
void events_expr_free(events_expr *e);
/* The same event: same operators and units, in the same order ("&&" is "AND"). */
int events_expr_equal(const events_expr *a, const events_expr *b);

/* ---- the matcher: events_table.c and the files events_table.h lists ----- */

typedef struct events_table events_table;

/* Called when the last unit FIFO holding a slot lets go of it (consumed,
 * dropped at the limit): the owner forgets the message. */
typedef void (*events_release_fn)(void *ctx, uint32_t slot);
/* Called by events_table_fire for a satisfied event with the slots it
 * consumes, oldest first; they are consumed after it returns. */
typedef void (*events_fire_fn)(void *ctx, uint32_t event, const uint32_t *slots, size_t n);

typedef struct events_stats {
    size_t events;       /* registered */
    size_t units;        /* unit events over all registered events */
    size_t messages;     /* distinct pushes still held by some FIFO */
    size_t buffered;     /* FIFO entries: a message waiting for 3 events counts 3 */
    size_t peers;        /* distinct peer names known */
    uint64_t pushed;     /* pushes that some event kept */
    uint64_t ignored;    /* pushes that no event wanted */
    uint64_t fired;      /* events handed out by events_table_fire */
    uint64_t dropped;    /* FIFO entries dropped at the limit */
} events_stats;

/* A unit FIFO keeps at most max(max_buffered, the unit's required amount)
 * messages; a push beyond that drops the oldest (0 means the default). */
events_table *events_table_new(size_t max_buffered);
void events_table_free(events_table *t);

/* Registers expr (taken, also on failure) as the next event; label is how
 * warnings name it. Returns its index (0, 1, ... in registration order),
 * or -1 when out of memory. */
long events_table_add(events_table *t, events_expr *expr, const char *label);
size_t events_table_percent_units(const events_table *t); /* units with a P% amount */

/* Replaces the known peer names (copied; duplicates count once) and
 * recomputes the percentage amounts. Returns 1 when the set changed, 0 when
 * it did not, -1 when out of memory (the old set stays). */
int events_table_set_peers(events_table *t, const wire_slice *names, size_t n);

/* Offers a message to every registered event. Each event buffers it in its
 * best matching unit (longest source prefix; exact tag before "*"). Returns
 * the number of events that kept it and sets *slot to the slot id (> 0)
 * the caller must keep the message under; 0 events leaves *slot at 0.
 * Returns -1 when out of memory (nothing kept). Drops at the limit call
 * release. */
long events_table_push(events_table *t, wire_slice source, wire_slice tag, uint32_t *slot,
                       events_release_fn release, void *ctx);

/* How many events may fire: a lower bound of what events_table_fire hands out. */
size_t events_table_ready(const events_table *t);

/* Hands every satisfied event, in registration order, to fire, then
 * consumes what it was given; an event fires again while what remains
 * still satisfies it. Returns the number of firings, or -1 when out of
 * memory (that event is not consumed). */
long events_table_fire(events_table *t, events_fire_fn fire, events_release_fn release,
                       void *ctx);

/* Forgets every buffered message (no release calls: the caller drops its
 * whole store); all slot ids become free. Costs the units that hold
 * messages, not the number of registered events. */
void events_table_clear(events_table *t);

void events_table_stats(const events_table *t, events_stats *out);

/* ---- replacing the events (a reload): events_inherit.c ------------------- */

const char *events_table_label(const events_table *t, size_t i); /* NULL past the end */
size_t events_table_slot_end(const events_table *t); /* slot ids in use are below this */

/* Gives the source and tag of the message kept under slot; 0, or -1 to skip it. */
typedef int (*events_key_fn)(void *ctx, uint32_t slot, wire_slice *source, wire_slice *tag);

typedef struct events_inherit {
    long *from;              /* per event of the new table: the old event it continues, or -1 */
    unsigned char *continued; /* per old event: 1 when a new event continues it */
    uint32_t *map;           /* per old slot id (events_table_slot_end): its new slot, or 0 */
    size_t rematched;        /* held messages that some added event took */
    size_t released;         /* held messages that no new event holds */
} events_inherit;

/* Fills n, a fresh table whose events are registered in their new order and
 * which has seen no message, with what t holds: its peers, counters and
 * limit; for each event of n with an equal event in t (events_expr_equal,
 * the first unused one), that event's buffers unchanged; and every message
 * t holds, oldest first, offered to the events of n that t did not have, as
 * a push would. The caller allocates out's arrays and moves its messages
 * by out->map. t is not changed. 0, or -1 when out of memory (free n). */
int events_table_inherit(events_table *n, const events_table *t, events_key_fn key, void *ctx,
                         events_inherit *out);

#endif
