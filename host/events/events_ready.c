/* events_ready.c: growing and clearing the ready bitmap (events_ready.h). */
#include "events/events_ready.h"

#include <stdlib.h>
#include <string.h>

void events_ready_free(events_ready *r) {
    free(r->words);
    free(r->summary);
    *r = (events_ready){0};
}

int events_ready_reserve(events_ready *r, size_t nbits) {
    if (nbits <= r->cap) return 0;
    size_t w0 = (nbits + 63) / 64, w1 = (nbits + 4095) / 4096;
    size_t old0 = (r->cap + 63) / 64, old1 = (r->cap + 4095) / 4096;
    uint64_t *words = realloc(r->words, w0 * sizeof *words);
    if (!words) return -1;
    r->words = words;
    memset(words + old0, 0, (w0 - old0) * sizeof *words);
    uint64_t *summary = realloc(r->summary, w1 * sizeof *summary);
    if (!summary) return -1; /* words is longer than cap needs, which is harmless */
    r->summary = summary;
    memset(summary + old1, 0, (w1 - old1) * sizeof *summary);
    r->cap = nbits;
    return 0;
}

void events_ready_clear(events_ready *r) {
    /* Stops at the last set bit; the summary word of every 4096 events
     * before it is read. */
    for (size_t w1 = 0; r->count; w1++) {
        while (r->summary[w1]) {
            size_t w0 = w1 * 64 + (size_t)__builtin_ctzll(r->summary[w1]);
            r->count -= (size_t)__builtin_popcountll(r->words[w0]);
            r->words[w0] = 0;
            r->summary[w1] &= r->summary[w1] - 1;
        }
    }
}
