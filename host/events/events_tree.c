/* events_tree.c: building and freeing the node tree of a registered event
 * (events_tree.h). */
#include "events/events_tree.h"

#include <stdlib.h>
#include <string.h>

static void node_free(events_node *n) {
    if (!n) return;
    for (uint32_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    free(n->kids);
    if (n->ring != n->inline_ring) free(n->ring);
    free(n);
}

static size_t count_units(const events_expr *x) {
    if (x->op == EVENTS_UNIT) return 1;
    size_t n = 0;
    for (size_t i = 0; i < x->nkids; i++) n += count_units(x->kids[i]);
    return n;
}

/* Mirrors x as nodes, a cache line each; units are listed in ev->units in
 * written order. */
static events_node *build(events_event *ev, const events_expr *x, events_node *parent) {
    size_t size = (sizeof(events_node) + 63) / 64 * 64;
    events_node *n = aligned_alloc(64, size);
    if (!n) return NULL;
    memset(n, 0, size);
    n->op = x->op;
    n->parent = parent;
    n->root = parent ? parent->root : n;
    n->event = ev->index;
    n->ev = ev;
    if (x->op == EVENTS_UNIT) {
        n->x = x;
        n->required = x->percent ? 1 : x->amount;
        ev->units[ev->nunits++] = n;
        return n;
    }
    n->kids = calloc(x->nkids, sizeof *n->kids);
    if (!n->kids) {
        free(n);
        return NULL;
    }
    for (size_t i = 0; i < x->nkids; i++) {
        n->kids[i] = build(ev, x->kids[i], n);
        if (!n->kids[i]) {
            node_free(n);
            return NULL;
        }
        n->nkids++;
    }
    return n;
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

events_event *events_event_new(events_expr *expr, uint32_t index, const char *label) {
    events_event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        events_expr_free(expr);
        return NULL;
    }
    ev->expr = expr;
    ev->index = index;
    if (!(ev->units = calloc(count_units(expr), sizeof *ev->units)) ||
        !(ev->label = copy_string(label)) || !(ev->root = build(ev, expr, NULL))) {
        events_event_free(ev);
        return NULL;
    }
    return ev;
}

void events_event_free(events_event *ev) {
    if (!ev) return;
    node_free(ev->root);
    free(ev->units);
    events_expr_free(ev->expr);
    free(ev->label);
    free(ev);
}
