/* events_peerset.h: the peer names that percentage amounts count.
 *
 * The names are kept sorted and distinct, so that the peers whose name
 * starts with a prefix are one run of the list, found by two binary
 * searches. */
#ifndef MARO_EVENTS_PEERSET_H
#define MARO_EVENTS_PEERSET_H

#include <stddef.h>

#include "wire/header.h"

typedef struct events_peerset {
    wire_slice *names; /* sorted, distinct; they point into bytes */
    size_t n;
    char *bytes;
} events_peerset;

void events_peerset_free(events_peerset *p);

/* Replaces the names with copies of names[0..n) (duplicates count once).
 * Returns 1 when the set changed, 0 when it did not, -1 when out of memory
 * (the old set stays). */
int events_peerset_set(events_peerset *p, const wire_slice *names, size_t n);

/* How many names start with prefix[0..len). */
size_t events_peerset_count_prefix(const events_peerset *p, const char *prefix, size_t len);

#endif
