/* events_slots.c: handing out slot ids (events_slots.h). */
#include "events/events_slots.h"

#include <stdlib.h>

void events_slots_init(events_slots *s) {
    *s = (events_slots){.end = 1};
}

void events_slots_free(events_slots *s) {
    free(s->refs);
    free(s->seq);
    free(s->free_ids);
    events_slots_init(s);
}

uint32_t events_slots_take(events_slots *s) {
    if (s->nfree) return s->free_ids[--s->nfree];
    if (s->end >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        if (cap > UINT32_MAX) return 0;
        /* Each array is kept as soon as it is grown: a later failure leaves
         * the larger ones in place and cap unchanged, which is consistent. */
        uint32_t *refs = realloc(s->refs, cap * sizeof *refs);
        if (!refs) return 0;
        s->refs = refs;
        uint64_t *seq = realloc(s->seq, cap * sizeof *seq);
        if (!seq) return 0;
        s->seq = seq;
        uint32_t *fr = realloc(s->free_ids, cap * sizeof *fr);
        if (!fr) return 0;
        s->free_ids = fr;
        s->cap = cap;
    }
    return (uint32_t)s->end++;
}
