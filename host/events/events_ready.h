/* events_ready.h: which registered events may fire, as a two-level bitmap.
 *
 * Bit i of words[] is set when event i became satisfied; bit w of
 * summary[] is set while words[w] is not zero. Walking the set bits in
 * order costs the bits that are set plus one summary word per 4096 events,
 * so a get() costs the events that fire, not all those registered. A bit
 * may stay set for an event that is no longer satisfied (the walker checks);
 * only the walker and events_ready_clear unset bits. */
#ifndef MARO_EVENTS_READY_H
#define MARO_EVENTS_READY_H

#include <stddef.h>
#include <stdint.h>

typedef struct events_ready {
    uint64_t *words;   /* bit i: event i may be satisfied */
    uint64_t *summary; /* bit w: words[w] is not zero */
    size_t cap;        /* bits that fit */
    size_t count;      /* bits set */
} events_ready;

void events_ready_free(events_ready *r);

/* Room for bits 0..nbits-1 (new ones unset); 0, or -1 when out of memory
 * (r unchanged). */
int events_ready_reserve(events_ready *r, size_t nbits);

static inline void events_ready_set(events_ready *r, uint32_t i) {
    uint64_t bit = 1ull << (i % 64);
    if (r->words[i / 64] & bit) return;
    r->words[i / 64] |= bit;
    r->summary[i / 4096] |= 1ull << (i / 64 % 64);
    r->count++;
}

/* The lowest set bit, or -1 when none is. *from (start at 0) is the summary
 * word to look in first; it moves past words found empty, so a walk that
 * unsets each bit it handles stays linear. Bits below *from must be unset. */
static inline long events_ready_lowest(const events_ready *r, size_t *from) {
    size_t nsum = (r->cap + 4095) / 4096;
    for (; *from < nsum; (*from)++) {
        uint64_t s = r->summary[*from];
        if (!s) continue;
        size_t w = *from * 64 + (size_t)__builtin_ctzll(s);
        return (long)(w * 64 + (size_t)__builtin_ctzll(r->words[w]));
    }
    return -1;
}

/* Unsets bit i, which is set. */
static inline void events_ready_unset(events_ready *r, uint32_t i) {
    r->words[i / 64] &= ~(1ull << (i % 64));
    if (!r->words[i / 64]) r->summary[i / 4096] &= ~(1ull << (i / 64 % 64));
    r->count--;
}

/* Unsets every bit; costs the words that hold set bits, found through the
 * summary, not the capacity. */
void events_ready_clear(events_ready *r);

#endif
