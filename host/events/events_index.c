/* events_index.c: the hash index from (tag or "*", source prefix) to unit
 * events (events_index.h). */
#include "events/events_index.h"

#include <stdlib.h>
#include <string.h>

/* ---- hashing ----------------------------------------------------------- */

/* A word-at-a-time hash whose state after whole 8-byte blocks is reused:
 * a lookup hashes the prefixes of its source at every length in lens[] by
 * carrying the block state forward and finishing each length with its tail
 * bytes, so the work is the source length / 8 plus one finish per length.
 * Not a defence against chosen collisions: names come from peers of one
 * group, and a collision only costs a longer probe. */
#define HASH_SEED 0x9e3779b97f4a7c15ull
#define HASH_MUL 0xff51afd7ed558ccdull

static inline uint64_t load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The n < 8 bytes base[off..off+n) as a word. When 8 bytes end there, one
 * load and a shift; else byte by byte. (Either way a function of the same
 * bytes, which is all a hash needs.) */
static inline uint64_t load_tail(const char *base, size_t off, size_t n) {
    if (n == 0) return 0;
    if (off + n >= 8) return load8(base + off + n - 8) >> (8 * (8 - n));
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)(unsigned char)base[off + i] << (8 * i);
    return v;
}

static inline uint64_t block_step(uint64_t h, uint64_t w) {
    h ^= w * 0x87c37b91114253d5ull;
    h = (h << 31) | (h >> 33);
    return h * HASH_MUL + 0x52dce729ull;
}

/* h: the state after the whole blocks of base[0..len). */
static inline uint64_t hash_finish(uint64_t h, const char *base, size_t len) {
    size_t whole = len & ~(size_t)7;
    if (len > whole) h = block_step(h, load_tail(base, whole, len - whole));
    return h ^ (uint64_t)len;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i + 8 <= n; i += 8) h = block_step(h, load8(s + i));
    return hash_finish(h, s, n);
}

static inline int same_bytes(const char *a, const char *b, size_t n) {
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) return 0;
        return 1;
    }
    for (size_t i = 0; i + 8 <= n; i += 8)
        if (load8(a + i) != load8(b + i)) return 0;
    return load8(a + n - 8) == load8(b + n - 8);
}

/* The key hash of (tag or "*", prefix) from the prefix's and the tag's hashes. */
static inline uint64_t key_hash(uint64_t prefix_h, uint64_t tag_h, int tag_any) {
    uint64_t x = prefix_h ^ (tag_any ? 0x2545f4914f6cdd1dull : tag_h * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* ---- the table of entries ------------------------------------------------ */

static inline events_index_entry *lookup(const events_index *ix, uint64_t h, int tag_any,
                                         const char *tag, size_t tag_len, const char *prefix,
                                         size_t prefix_len) {
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        events_index_entry *e = ix->slots[i];
        if (!e) return NULL;
        if (e->hash == h && e->tag_any == tag_any && e->prefix_len == prefix_len &&
            e->tag_len == tag_len && same_bytes(e->key, tag, tag_len) &&
            same_bytes(e->key + tag_len, prefix, prefix_len))
            return e;
    }
}

static int grow_slots(events_index *ix) {
    size_t cap = ix->slots ? (ix->mask + 1) * 2 : 64;
    events_index_entry **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; ix->slots && i <= ix->mask; i++) {
        events_index_entry *e = ix->slots[i];
        if (!e) continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->mask = cap - 1;
    return 0;
}

/* The entry of x's key, created empty when missing; NULL when out of memory. */
static events_index_entry *entry_of(events_index *ix, const events_expr *x) {
    uint64_t h = key_hash(hash_bytes(x->source, x->source_len), hash_bytes(x->tag, x->tag_len),
                          x->tag_any);
    size_t tag_len = x->tag_any ? 0 : x->tag_len;
    events_index_entry *e =
        ix->slots ? lookup(ix, h, x->tag_any, x->tag, tag_len, x->source, x->source_len) : NULL;
    if (e) return e;
    /* At most half full, so that probes stay short. */
    if ((!ix->slots || (ix->nentries + 1) * 2 > ix->mask + 1) && grow_slots(ix) != 0)
        return NULL;
    size_t size = (sizeof *e + tag_len + x->source_len + 63) / 64 * 64;
    e = aligned_alloc(64, size);
    if (!e) return NULL;
    memset(e, 0, size);
    e->hash = h;
    e->tag_any = (uint8_t)x->tag_any;
    e->tag_len = (uint16_t)tag_len;
    e->prefix_len = (uint16_t)x->source_len;
    memcpy(e->key, x->tag, tag_len);
    memcpy(e->key + tag_len, x->source, x->source_len);
    size_t j = h & ix->mask;
    while (ix->slots[j]) j = (j + 1) & ix->mask;
    ix->slots[j] = e;
    ix->nentries++;
    return e;
}

/* Room for want units in e; the first one lives in the entry itself. */
static int entry_reserve(events_index_entry *e, size_t want) {
    if (want <= e->cap) return 0;
    if (want == 1) {
        e->units = &e->first;
        e->cap = 1;
        return 0;
    }
    size_t n = 4;
    while (n < want) n *= 2;
    struct events_node **u = malloc(n * sizeof *u);
    if (!u) return -1;
    if (e->n) memcpy(u, e->units, e->n * sizeof *u);
    if (e->units != &e->first) free(e->units);
    e->units = u;
    e->cap = (uint32_t)n;
    return 0;
}

/* The record of prefix length len; inserted (zeroed) when missing and insert is set. */
static events_index_len *len_of(events_index *ix, uint32_t len, int insert) {
    size_t lo = 0, hi = ix->nlens;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->lens[mid].len < len) lo = mid + 1;
        else hi = mid;
    }
    if (lo < ix->nlens && ix->lens[lo].len == len) return &ix->lens[lo];
    if (!insert) return NULL;
    memmove(&ix->lens[lo + 1], &ix->lens[lo], (ix->nlens - lo) * sizeof *ix->lens);
    ix->lens[lo] = (events_index_len){len, 0, 0};
    ix->nlens++;
    return &ix->lens[lo];
}

/* Grows *arr (capacity *cap elements of size bytes) to hold want; 0 or -1. */
static int reserve(void **arr, size_t *cap, size_t want, size_t size) {
    if (*cap >= want) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < want) n *= 2;
    void *q = realloc(*arr, n * size);
    if (!q) return -1;
    *arr = q;
    *cap = n;
    return 0;
}

/* ---- the interface ------------------------------------------------------- */

void events_index_free(events_index *ix) {
    for (size_t i = 0; ix->slots && i <= ix->mask; i++) {
        events_index_entry *e = ix->slots[i];
        if (!e) continue;
        if (e->units != &e->first) free(e->units);
        free(e);
    }
    free(ix->slots);
    free(ix->lens);
    free(ix->found);
    *ix = (events_index){0};
}

int events_index_reserve(events_index *ix, const events_expr *x, size_t more) {
    void *lens = ix->lens, *found = ix->found;
    int rc = reserve(&lens, &ix->lens_cap, ix->nlens + more, sizeof *ix->lens);
    ix->lens = lens;
    if (rc != 0) return -1;
    /* two entries per length: the exact tag and "*" */
    rc = reserve(&found, &ix->found_cap, 2 * (ix->nlens + more), sizeof *ix->found);
    ix->found = found;
    if (rc != 0) return -1;
    events_index_entry *e = entry_of(ix, x);
    return e && entry_reserve(e, (size_t)e->n + more) == 0 ? 0 : -1;
}

void events_index_add(events_index *ix, const events_expr *x, struct events_node *unit) {
    events_index_entry *e = entry_of(ix, x); /* exists: reserved */
    e->units[e->n++] = unit;
    events_index_len *l = len_of(ix, (uint32_t)x->source_len, 1);
    if (x->tag_any) l->n_wild++;
    else l->n_exact++;
}

size_t events_index_find(events_index *ix, wire_slice source, wire_slice tag,
                         events_index_entry *const **out) {
    if (!ix->nlens) {
        *out = NULL;
        return 0;
    }
    uint64_t tag_h = hash_bytes(tag.ptr, tag.len), block_h = HASH_SEED;
    /* Lengths go up, and the entries fill found[] from its end down, so
     * that it reads longest prefix first, the exact tag before "*". */
    size_t at = 2 * ix->nlens, done = 0;
    for (size_t i = 0; i < ix->nlens && ix->lens[i].len <= source.len; i++) {
        const events_index_len *l = &ix->lens[i];
        for (; done + 8 <= l->len; done += 8) block_h = block_step(block_h, load8(source.ptr + done));
        uint64_t prefix_h = hash_finish(block_h, source.ptr, l->len);
        events_index_entry *exact = NULL, *wild = NULL;
        if (l->n_exact)
            exact = lookup(ix, key_hash(prefix_h, tag_h, 0), 0, tag.ptr, tag.len, source.ptr,
                           l->len);
        if (l->n_wild)
            wild = lookup(ix, key_hash(prefix_h, 0, 1), 1, NULL, 0, source.ptr, l->len);
        if (wild) ix->found[--at] = wild;
        if (exact) ix->found[--at] = exact;
    }
    *out = ix->found + at;
    return 2 * ix->nlens - at;
}
