/* events_match.c: which registered events want a message, their buffers, and
 * when they are satisfied.
 *
 * Index. Every unit event is filed under the key (tag or "*", source
 * prefix) in one hash table; "*" as source is the empty prefix. A push hashes
 * the message's source once, byte by byte, and looks up only the prefix
 * lengths that some unit uses (lens[]), with the message's tag and with
 * "*". Lookups go from the longest prefix down, exact tag before "*" at
 * each length, and the first unit of an event met that way claims the
 * message for that event (root->stamp). So a push costs the lookups plus
 * the units that do match: events that cannot match cost nothing. What a
 * push touches is packed to few cache lines: an index entry holds its key
 * bytes and its first unit, a unit node holds its first ring slots, and a
 * unit event is its own root.
 *
 * Buffers. A message kept by k events takes one slot id with refcount k;
 * each unit holds a ring of slot ids, oldest at head. The caller maps slot
 * ids to messages and forgets one when release() says the count hit zero.
 *
 * Satisfaction is kept up to date incrementally: a unit is satisfied when it
 * holds at least `required` messages; an AND node counts its satisfied kids
 * (nsat); a root that becomes satisfied sets its event's bit in the ready
 * bitmap, which events_table_fire walks in registration order through a
 * second level (one bit per word), so it costs the ready events, not all of
 * them. Counts only fall while firing, so firing never readies anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "events/events.h"

typedef struct event event;
typedef struct node node;

#define INLINE_RING 2

/* The first 64 bytes are what a push touches. */
struct node {
    uint64_t stamp;    /* root: the push that last claimed this event */
    node *root;
    uint32_t *ring;    /* unit: slot ids, oldest at head; capacity a power of two */
    uint32_t cap, head, count;
    uint32_t required; /* unit: messages needed: amount, or the percentage of peers */
    int sat;           /* satisfied now */
    uint32_t event;    /* root: the event's index */
    node *parent;      /* NULL at the root */
    uint32_t inline_ring[INLINE_RING];
    /* cold */
    int op; /* enum events_op */
    event *ev;
    node **kids; /* AND / OR */
    uint32_t nkids, nsat;
    const events_expr *x; /* unit: owned by ev->expr */
};

struct event {
    uint32_t index;
    node *root;
    node **units;
    uint32_t nunits;
    events_expr *expr;
    char *label;
};

typedef struct ientry {
    uint64_t hash;
    node **units; /* in registration order; &first while there is one */
    uint32_t n, cap;
    uint16_t tag_len, prefix_len;
    uint8_t tag_any;
    node *first;
    char key[]; /* tag bytes, then prefix bytes */
} ientry;

typedef struct lenrec {
    uint32_t len, n_exact, n_wild; /* units with this prefix length and an exact / "*" tag */
} lenrec;

typedef struct found {
    ientry *exact, *wild;
} found;

struct events_table {
    size_t max_buffered;
    event **events;
    node **roots; /* roots[i] == events[i]->root */
    size_t nevents, events_cap;
    node **pct;
    size_t npct, pct_cap, nunits;

    ientry **index; /* open addressing, linear probing */
    size_t index_mask, nentries;
    lenrec *lens; /* ascending by len */
    size_t nlens, lens_cap;

    uint32_t *refs; /* per slot: unit FIFOs holding it */
    uint64_t *seq;  /* per slot: push order, to hand messages out oldest first */
    uint32_t *free_slots;
    size_t nslots, slots_cap, nfree; /* ids 1..nslots-1 were handed out; 0 is "none" */
    uint64_t push_seq;

    uint64_t *ready0; /* bit i: event i may be satisfied */
    uint64_t *ready1; /* bit w: ready0[w] is not zero */
    size_t nready; /* bits set in ready0 */

    /* scratch, sized when events are added so that a push never allocates */
    node **claimed;
    found *found;
    size_t found_cap;
    node **taken;
    size_t taken_cap;
    uint32_t *gather;
    size_t gather_cap;

    wire_slice *peers; /* sorted, distinct */
    size_t npeers;
    char *peer_bytes;

    size_t buffered;
    uint64_t pushed, ignored, fired, dropped;
    log_limiter drop_warn;
};

/* ---- hashing ----------------------------------------------------------- */

/* A word-at-a-time hash whose state after whole 8-byte blocks is reused:
 * a push hashes the prefixes of its source at every length in lens[] by
 * carrying the block state forward and finishing each length with its tail
 * bytes (stream_at), so the work is the source length / 8 plus one finish
 * per length. Not a defence against chosen collisions: names come from
 * peers of one group, and a collision only costs a longer probe. */
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

static inline ientry *index_lookup(const events_table *t, uint64_t h, int tag_any,
                                   const char *tag, size_t tag_len, const char *prefix,
                                   size_t prefix_len) {
    for (size_t i = h & t->index_mask;; i = (i + 1) & t->index_mask) {
        ientry *e = t->index[i];
        if (!e) return NULL;
        if (e->hash == h && e->tag_any == tag_any && e->prefix_len == prefix_len &&
            e->tag_len == tag_len && same_bytes(e->key, tag, tag_len) &&
            same_bytes(e->key + tag_len, prefix, prefix_len))
            return e;
    }
}

static int index_grow(events_table *t) {
    size_t cap = t->index ? (t->index_mask + 1) * 2 : 64;
    ientry **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; t->index && i <= t->index_mask; i++) {
        ientry *e = t->index[i];
        if (!e) continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    free(t->index);
    t->index = slots;
    t->index_mask = cap - 1;
    return 0;
}

/* The entry of unit u's key, created empty when missing; NULL when out of memory. */
static ientry *index_entry(events_table *t, const node *u) {
    const events_expr *x = u->x;
    uint64_t h = key_hash(hash_bytes(x->source, x->source_len), hash_bytes(x->tag, x->tag_len),
                          x->tag_any);
    size_t tag_len = x->tag_any ? 0 : x->tag_len;
    ientry *e = t->index ? index_lookup(t, h, x->tag_any, x->tag, tag_len, x->source,
                                        x->source_len)
                         : NULL;
    if (e) return e;
    if ((!t->index || (t->nentries + 1) * 2 > t->index_mask + 1) && index_grow(t) != 0)
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
    size_t j = h & t->index_mask;
    while (t->index[j]) j = (j + 1) & t->index_mask;
    t->index[j] = e;
    t->nentries++;
    return e;
}

/* ---- small helpers ----------------------------------------------------- */

/* Grows array p (capacity *cap elements of size bytes) to hold want; the
 * result goes to *out (p itself when it is big enough). 0, or -1 when out of
 * memory (p untouched). Use through RESERVE. */
static int grow(void *p, size_t *cap, size_t want, size_t size, void **out) {
    *out = p;
    if (*cap >= want) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < want) n *= 2;
    void *q = realloc(p, n * size);
    if (!q) return -1;
    *out = q;
    *cap = n;
    return 0;
}

/* RESERVE(array, capacity, want): 0, or -1; needs `void *grown` in scope. */
#define RESERVE(arr, capv, want)                                              \
    (grow((arr), &(capv), (want), sizeof *(arr), &grown) == 0 ? ((arr) = grown, 0) : -1)

static inline size_t unit_limit(const events_table *t, const node *u) {
    return u->required > t->max_buffered ? u->required : t->max_buffered;
}

/* Sets n's satisfaction and carries the change up to the root. */
static void node_set(events_table *t, node *n, int sat) {
    while (n->sat != sat) {
        n->sat = sat;
        node *p = n->parent;
        if (!p) {
            if (sat) {
                uint32_t i = n->event;
                uint64_t bit = 1ull << (i % 64);
                if (!(t->ready0[i / 64] & bit)) {
                    t->ready0[i / 64] |= bit;
                    t->ready1[i / 4096] |= 1ull << (i / 64 % 64);
                    t->nready++;
                }
            }
            return;
        }
        p->nsat += sat ? 1u : (uint32_t)-1;
        sat = p->op == EVENTS_AND ? p->nsat == p->nkids : p->nsat > 0;
        n = p;
    }
}

static inline void unit_refresh(events_table *t, node *u) {
    node_set(t, u, u->count >= u->required);
}

static inline void slot_unref(events_table *t, uint32_t s, events_release_fn release,
                              void *ctx) {
    if (--t->refs[s] == 0) {
        t->free_slots[t->nfree++] = s;
        if (release) release(ctx, s);
    }
}

static uint32_t ring_pop(events_table *t, node *u) {
    uint32_t s = u->ring[u->head];
    u->head = (u->head + 1) & (u->cap - 1);
    u->count--;
    t->buffered--;
    return s;
}

/* Room for one more in u's ring (when under its limit); 0 or -1. */
static int ring_reserve(const events_table *t, node *u) {
    if (u->count < u->cap || u->count >= unit_limit(t, u)) return 0;
    if (u->cap == 0) {
        u->ring = u->inline_ring;
        u->cap = INLINE_RING;
        u->head = 0;
        return 0;
    }
    uint32_t cap = u->cap * 2;
    uint32_t *r = malloc((size_t)cap * sizeof *r);
    if (!r) return -1;
    for (uint32_t i = 0; i < u->count; i++) r[i] = u->ring[(u->head + i) & (u->cap - 1)];
    if (u->ring != u->inline_ring) free(u->ring);
    u->ring = r;
    u->cap = cap;
    u->head = 0;
    return 0;
}

static void warn_drop(events_table *t, const node *u, size_t limit) {
    unsigned long held = 0;
    if (log_level() < LOG_WARN || !log_limiter_pass(&t->drop_warn, EVENTS_WARN_INTERVAL, &held))
        return;
    char more[96] = "";
    if (held) snprintf(more, sizeof more, " (%lu more drops since the last warning)", held);
    log_warn("RegisterTable: event %s: unit \"%s\" already holds %zu messages (max_buffered); "
             "dropped its oldest%s",
             u->ev->label, u->x->text, limit, more);
}

static void unit_append(events_table *t, node *u, uint32_t s, events_release_fn release,
                        void *ctx) {
    size_t limit = unit_limit(t, u);
    while (u->count >= limit) {
        slot_unref(t, ring_pop(t, u), release, ctx);
        t->dropped++;
        warn_drop(t, u, limit);
    }
    u->ring[(u->head + u->count) & (u->cap - 1)] = s;
    u->count++;
    t->buffered++;
    unit_refresh(t, u);
}

/* ---- peers ------------------------------------------------------------- */

static int slice_cmp(const void *a, const void *b) {
    const wire_slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Peers whose name starts with prefix: one contiguous run of the sorted list. */
static size_t peers_with_prefix(const events_table *t, const char *p, size_t plen) {
    wire_slice key = {p, plen};
    size_t lo = 0, hi = t->npeers;
    while (lo < hi) { /* first name >= prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (slice_cmp(&t->peers[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t first = lo;
    hi = t->npeers;
    while (lo < hi) { /* first name after that run */
        size_t mid = lo + (hi - lo) / 2;
        if (t->peers[mid].len >= plen && memcmp(t->peers[mid].ptr, p, plen) == 0) lo = mid + 1;
        else hi = mid;
    }
    return lo - first;
}

static void percent_update(events_table *t, node *u) {
    const events_expr *x = u->x;
    uint64_t n = x->source_any ? t->npeers : peers_with_prefix(t, x->source, x->source_len);
    uint64_t r = (n * x->amount + 99) / 100; /* rounded up */
    u->required = r < 1 ? 1 : (uint32_t)r;
    unit_refresh(t, u);
}

int events_table_set_peers(events_table *t, const wire_slice *names, size_t n) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += names[i].len;
    wire_slice *list = malloc((n ? n : 1) * sizeof *list);
    char *store = malloc(bytes ? bytes : 1);
    if (!list || !store) {
        free(list);
        free(store);
        return -1;
    }
    char *p = store;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, names[i].ptr, names[i].len);
        list[i] = (wire_slice){p, names[i].len};
        p += names[i].len;
    }
    qsort(list, n, sizeof *list, slice_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || slice_cmp(&list[m - 1], &list[i]) != 0) list[m++] = list[i];
    int same = m == t->npeers;
    for (size_t i = 0; same && i < m; i++) same = slice_cmp(&list[i], &t->peers[i]) == 0;
    if (same) {
        free(list);
        free(store);
        return 0;
    }
    free(t->peers);
    free(t->peer_bytes);
    t->peers = list;
    t->peer_bytes = store;
    t->npeers = m;
    for (size_t i = 0; i < t->npct; i++) percent_update(t, t->pct[i]);
    return 1;
}

/* ---- the table ----------------------------------------------------------- */

events_table *events_table_new(size_t max_buffered) {
    events_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->max_buffered = max_buffered ? max_buffered : EVENTS_DEFAULT_MAX_BUFFERED;
    t->nslots = 1;
    return t;
}

static void node_free(node *n) {
    if (!n) return;
    for (uint32_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    free(n->kids);
    if (n->ring != n->inline_ring) free(n->ring);
    free(n);
}

static void event_free(event *ev) {
    if (!ev) return;
    node_free(ev->root);
    free(ev->units);
    events_expr_free(ev->expr);
    free(ev->label);
    free(ev);
}

void events_table_free(events_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nevents; i++) event_free(t->events[i]);
    for (size_t i = 0; t->index && i <= t->index_mask; i++) {
        if (!t->index[i]) continue;
        if (t->index[i]->units != &t->index[i]->first) free(t->index[i]->units);
        free(t->index[i]);
    }
    free(t->index);
    free(t->events);
    free(t->roots);
    free(t->pct);
    free(t->lens);
    free(t->refs);
    free(t->seq);
    free(t->free_slots);
    free(t->ready0);
    free(t->ready1);
    free(t->claimed);
    free(t->found);
    free(t->taken);
    free(t->gather);
    free(t->peers);
    free(t->peer_bytes);
    free(t);
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static size_t count_units(const events_expr *x) {
    if (x->op == EVENTS_UNIT) return 1;
    size_t n = 0;
    for (size_t i = 0; i < x->nkids; i++) n += count_units(x->kids[i]);
    return n;
}

/* Mirrors expr as nodes; units are listed in ev->units in written order. */
static node *build(event *ev, const events_expr *x, node *parent) {
    size_t size = (sizeof(node) + 63) / 64 * 64;
    node *n = aligned_alloc(64, size);
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

/* Room for want units in e; the first one lives in the entry itself. */
static int entry_reserve(ientry *e, size_t want) {
    if (want <= e->cap) return 0;
    if (want == 1) {
        e->units = &e->first;
        e->cap = 1;
        return 0;
    }
    size_t n = 4;
    while (n < want) n *= 2;
    node **u = malloc(n * sizeof *u);
    if (!u) return -1;
    if (e->n) memcpy(u, e->units, e->n * sizeof *u);
    if (e->units != &e->first) free(e->units);
    e->units = u;
    e->cap = (uint32_t)n;
    return 0;
}

static lenrec *lens_find(events_table *t, uint32_t len, int insert) {
    size_t lo = 0, hi = t->nlens;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->lens[mid].len < len) lo = mid + 1;
        else hi = mid;
    }
    if (lo < t->nlens && t->lens[lo].len == len) return &t->lens[lo];
    if (!insert) return NULL;
    memmove(&t->lens[lo + 1], &t->lens[lo], (t->nlens - lo) * sizeof *t->lens);
    t->lens[lo] = (lenrec){len, 0, 0};
    t->nlens++;
    return &t->lens[lo];
}

long events_table_add(events_table *t, events_expr *expr, const char *label) {
    void *grown;
    size_t nunits = count_units(expr);
    event *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->units = calloc(nunits, sizeof *ev->units)) ||
        !(ev->label = copy_string(label ? label : "?"))) {
        if (ev) free(ev->units);
        free(ev);
        events_expr_free(expr);
        return -1;
    }
    ev->expr = expr;
    ev->index = (uint32_t)t->nevents;
    if (!(ev->root = build(ev, expr, NULL))) goto oom;

    /* Everything that can fail first; from "commit" on nothing allocates. */
    size_t n = t->nevents + 1;
    size_t cap = t->events_cap;
    event **events = t->events;
    if (RESERVE(events, cap, n) != 0) goto oom;
    t->events = events;
    if (cap != t->events_cap) {
        node **roots = realloc(t->roots, cap * sizeof *roots);
        if (!roots) goto oom;
        t->roots = roots;
        node **c = realloc(t->claimed, cap * sizeof *c);
        if (!c) goto oom;
        t->claimed = c;
        size_t w0 = (cap + 63) / 64, w1 = (cap + 4095) / 4096;
        size_t old0 = (t->events_cap + 63) / 64, old1 = (t->events_cap + 4095) / 4096;
        uint64_t *r0 = realloc(t->ready0, w0 * sizeof *r0);
        if (!r0) goto oom;
        t->ready0 = r0;
        memset(r0 + old0, 0, (w0 - old0) * sizeof *r0);
        uint64_t *r1 = realloc(t->ready1, w1 * sizeof *r1);
        if (!r1) goto oom;
        t->ready1 = r1;
        memset(r1 + old1, 0, (w1 - old1) * sizeof *r1);
        t->events_cap = cap;
    }
    if (RESERVE(t->pct, t->pct_cap, t->npct + nunits) != 0 ||
        RESERVE(t->lens, t->lens_cap, t->nlens + nunits) != 0 ||
        RESERVE(t->taken, t->taken_cap, t->nunits + nunits) != 0)
        goto oom;
    if (RESERVE(t->found, t->found_cap, t->nlens + nunits) != 0) goto oom;
    for (uint32_t i = 0; i < ev->nunits; i++) {
        ientry *e = index_entry(t, ev->units[i]);
        if (!e || entry_reserve(e, (size_t)e->n + nunits) != 0) goto oom;
    }

    /* commit */
    for (uint32_t i = 0; i < ev->nunits; i++) {
        node *u = ev->units[i];
        ientry *e = index_entry(t, u); /* exists now */
        e->units[e->n++] = u;
        lenrec *l = lens_find(t, (uint32_t)u->x->source_len, 1);
        if (u->x->tag_any) l->n_wild++;
        else l->n_exact++;
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
    event_free(ev);
    return -1;
}

size_t events_table_percent_units(const events_table *t) { return t->npct; }
size_t events_table_ready(const events_table *t) { return t->nready; }

/* ---- push ---------------------------------------------------------------- */

static uint32_t slot_new(events_table *t) {
    if (t->nfree) return t->free_slots[--t->nfree];
    if (t->nslots >= t->slots_cap) {
        size_t cap = t->slots_cap ? t->slots_cap * 2 : 256;
        if (cap > UINT32_MAX) return 0;
        uint32_t *refs = realloc(t->refs, cap * sizeof *refs);
        if (!refs) return 0;
        t->refs = refs;
        uint64_t *seq = realloc(t->seq, cap * sizeof *seq);
        if (!seq) return 0;
        t->seq = seq;
        uint32_t *fr = realloc(t->free_slots, cap * sizeof *fr);
        if (!fr) return 0;
        t->free_slots = fr;
        t->slots_cap = cap;
    }
    return (uint32_t)t->nslots++;
}

static inline size_t claim(events_table *t, const ientry *e, size_t nclaimed) {
    for (uint32_t i = 0; i < e->n; i++) {
        node *u = e->units[i];
        if (u->root->stamp != t->push_seq) {
            u->root->stamp = t->push_seq;
            t->claimed[nclaimed++] = u;
        }
    }
    return nclaimed;
}

/* Puts in t->claimed the unit of every event that wants a message from
 * source with tag (one per event, see claim); returns how many. */
static size_t match_units(events_table *t, wire_slice source, wire_slice tag) {
    uint64_t tag_h = hash_bytes(tag.ptr, tag.len), block_h = HASH_SEED;
    size_t nfound = 0, done = 0;
    for (size_t i = 0; i < t->nlens && t->lens[i].len <= source.len; i++) {
        const lenrec *l = &t->lens[i];
        for (; done + 8 <= l->len; done += 8) block_h = block_step(block_h, load8(source.ptr + done));
        uint64_t prefix_h = hash_finish(block_h, source.ptr, l->len);
        found f = {NULL, NULL};
        if (l->n_exact)
            f.exact = index_lookup(t, key_hash(prefix_h, tag_h, 0), 0, tag.ptr, tag.len,
                                   source.ptr, l->len);
        if (l->n_wild)
            f.wild = index_lookup(t, key_hash(prefix_h, 0, 1), 1, NULL, 0, source.ptr, l->len);
        if (f.exact || f.wild) t->found[nfound++] = f;
    }
    /* Longest prefix first; at one length the exact tag before "*". */
    t->push_seq++;
    size_t nclaimed = 0;
    for (size_t k = nfound; k-- > 0;) {
        if (t->found[k].exact) nclaimed = claim(t, t->found[k].exact, nclaimed);
        if (t->found[k].wild) nclaimed = claim(t, t->found[k].wild, nclaimed);
    }
    return nclaimed;
}

long events_table_push(events_table *t, wire_slice source, wire_slice tag, uint32_t *slot,
                       events_release_fn release, void *ctx) {
    *slot = 0;
    size_t nclaimed = match_units(t, source, tag);
    if (nclaimed == 0) {
        t->ignored++;
        return 0;
    }
    for (size_t i = 0; i < nclaimed; i++)
        if (ring_reserve(t, t->claimed[i]) != 0) return -1;
    uint32_t s = slot_new(t);
    if (!s) return -1;
    t->refs[s] = (uint32_t)nclaimed;
    t->seq[s] = t->push_seq;
    for (size_t i = 0; i < nclaimed; i++) unit_append(t, t->claimed[i], s, release, ctx);
    t->pushed++;
    *slot = s;
    return (long)nclaimed;
}

/* ---- fire ---------------------------------------------------------------- */

/* Lists the units whose messages a satisfied node hands over: all of an
 * AND, the first satisfied alternative of an OR. */
static size_t take(const node *n, node **out, size_t k) {
    if (n->op == EVENTS_UNIT) {
        out[k++] = (node *)n;
        return k;
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (!n->kids[i]->sat) continue;
        k = take(n->kids[i], out, k);
        if (n->op == EVENTS_OR) break;
    }
    return k;
}

/* The first `required` slots of each taken unit, merged oldest first. */
static size_t gather(events_table *t, node **taken, size_t ntaken) {
    size_t total = 0;
    uint32_t pos[64];
    if (ntaken == 1 || ntaken > 64) { /* one unit, or too many to merge: in unit order */
        for (size_t i = 0; i < ntaken; i++) {
            node *u = taken[i];
            for (uint32_t k = 0; k < u->required; k++)
                t->gather[total++] = u->ring[(u->head + k) & (u->cap - 1)];
        }
        return total;
    }
    memset(pos, 0, sizeof pos);
    for (;;) {
        size_t best = ntaken;
        uint64_t best_seq = UINT64_MAX;
        for (size_t i = 0; i < ntaken; i++) {
            node *u = taken[i];
            if (pos[i] >= u->required) continue;
            uint64_t q = t->seq[u->ring[(u->head + pos[i]) & (u->cap - 1)]];
            if (q < best_seq) {
                best_seq = q;
                best = i;
            }
        }
        if (best == ntaken) return total;
        node *u = taken[best];
        t->gather[total++] = u->ring[(u->head + pos[best]++) & (u->cap - 1)];
    }
}

/* Hands root's messages to fire once, then consumes them; 0 or -1 (out of memory). */
static int fire_event(events_table *t, node *root, events_fire_fn fire, events_release_fn release,
                      void *ctx) {
    size_t ntaken = take(root, t->taken, 0), total = 0;
    for (size_t k = 0; k < ntaken; k++) total += t->taken[k]->required;
    void *grown;
    if (RESERVE(t->gather, t->gather_cap, total) != 0) return -1;
    total = gather(t, t->taken, ntaken);
    fire(ctx, root->event, t->gather, total);
    for (size_t k = 0; k < ntaken; k++) {
        node *u = t->taken[k];
        for (uint32_t j = 0; j < u->required && u->count; j++)
            slot_unref(t, ring_pop(t, u), release, ctx);
    }
    for (size_t k = 0; k < ntaken; k++) unit_refresh(t, t->taken[k]);
    t->fired++;
    return 0;
}

long events_table_fire(events_table *t, events_fire_fn fire, events_release_fn release,
                       void *ctx) {
    if (!t->nready) return 0;
    long fired = 0;
    /* An error raised inside fire (a Lua memory error) leaves the bits of
     * the events not consumed yet set. Each firing consumes at least one
     * message, so the inner loop ends. */
    size_t n1 = (t->nevents + 4095) / 4096;
    for (size_t w1 = 0; w1 < n1; w1++) {
        while (t->ready1[w1]) {
            size_t w0 = w1 * 64 + (size_t)__builtin_ctzll(t->ready1[w1]);
            while (t->ready0[w0]) {
                uint64_t bit = t->ready0[w0] & -t->ready0[w0];
                node *root = t->roots[w0 * 64 + (size_t)__builtin_ctzll(bit)];
                while (root->sat) {
                    if (fire_event(t, root, fire, release, ctx) != 0) return -1;
                    fired++;
                }
                t->ready0[w0] &= ~bit;
                t->nready--;
            }
            t->ready1[w1] &= t->ready1[w1] - 1;
        }
    }
    return fired;
}

void events_table_clear(events_table *t) {
    for (size_t i = 0; i < t->nevents; i++) {
        event *ev = t->events[i];
        for (uint32_t k = 0; k < ev->nunits; k++) {
            node *u = ev->units[k];
            if (u->cap > 64) { /* keep small rings for the next messages */
                free(u->ring);
                u->ring = NULL;
                u->cap = 0;
            }
            u->head = u->count = 0;
            unit_refresh(t, u);
        }
    }
    memset(t->ready0, 0, (t->events_cap + 63) / 64 * sizeof *t->ready0);
    memset(t->ready1, 0, (t->events_cap + 4095) / 4096 * sizeof *t->ready1);
    t->nready = 0;
    t->nslots = 1;
    t->nfree = 0;
    t->buffered = 0;
}

void events_table_stats(const events_table *t, events_stats *out) {
    *out = (events_stats){.events = t->nevents,
                          .units = t->nunits,
                          .messages = t->nslots - 1 - t->nfree,
                          .buffered = t->buffered,
                          .peers = t->npeers,
                          .pushed = t->pushed,
                          .ignored = t->ignored,
                          .fired = t->fired,
                          .dropped = t->dropped};
}

/* ---- replacing the events (a reload) -------------------------------------- */

const char *events_table_label(const events_table *t, size_t i) {
    return i < t->nevents ? t->events[i]->label : NULL;
}

size_t events_table_slot_end(const events_table *t) { return t->nslots; }

typedef struct inherit_ctx {
    uint32_t *map; /* slot of t -> slot of n */
    uint32_t *rev; /* slot of n -> slot of t */
} inherit_ctx;

/* A slot of n let go while re-matching (a unit at its limit): the message
 * it stood for is no longer held. */
static void inherit_release(void *ctx, uint32_t slot) {
    inherit_ctx *c = ctx;
    c->map[c->rev[slot]] = 0;
}

/* n's slot for t's slot s, made on first use with s's push order. 0 when out of memory. */
static uint32_t inherit_slot(events_table *n, const events_table *t, uint32_t s, inherit_ctx *c,
                             uint32_t **rev, size_t *rev_cap) {
    if (c->map[s]) return c->map[s];
    uint32_t ns = slot_new(n);
    void *grown;
    if (!ns || RESERVE(*rev, *rev_cap, (size_t)ns + 1) != 0) return 0;
    c->rev = *rev;
    n->refs[ns] = 0;
    n->seq[ns] = t->seq[s];
    c->rev[ns] = s;
    c->map[s] = ns;
    return ns;
}

/* Room for count slot ids in u's ring (empty so far). */
static int ring_fit(node *u, uint32_t count) {
    if (count <= u->cap) return 0;
    if (count <= INLINE_RING) {
        u->ring = u->inline_ring;
        u->cap = INLINE_RING;
        return 0;
    }
    uint32_t cap = 4;
    while (cap < count) cap *= 2;
    uint32_t *r = malloc((size_t)cap * sizeof *r);
    if (!r) return -1;
    if (u->ring && u->ring != u->inline_ring) free(u->ring);
    u->ring = r;
    u->cap = cap;
    return 0;
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

int events_table_inherit(events_table *n, const events_table *t, events_key_fn key, void *ctx,
                         events_inherit *out) {
    int rc = -1;
    uint32_t *live = NULL, *tmp = NULL, *rev = NULL;
    size_t rev_cap = 0;
    inherit_ctx c = {out->map, NULL};
    n->max_buffered = t->max_buffered;
    n->pushed = t->pushed;
    n->ignored = t->ignored;
    n->fired = t->fired;
    n->dropped = t->dropped;
    n->drop_warn = t->drop_warn;
    n->push_seq = t->push_seq;
    out->rematched = out->released = 0;
    if (events_table_set_peers(n, t->peers, t->npeers) < 0) return -1;
    memset(out->map, 0, t->nslots * sizeof *out->map);

    /* Which event of t each event of n continues: the first unused one with
     * the same expression, so an event listed twice stays listed twice. */
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

    /* A continued event keeps its buffers as they are: same units, same
     * order, so nothing it already handed out can come back to it. */
    for (size_t i = 0; i < n->nevents; i++) {
        if (out->from[i] < 0) continue;
        const event *old = t->events[out->from[i]];
        event *ev = n->events[i];
        for (uint32_t k = 0; k < ev->nunits; k++) {
            const node *ou = old->units[k];
            node *u = ev->units[k];
            if (ring_fit(u, ou->count) != 0) goto done;
            for (uint32_t m = 0; m < ou->count; m++) {
                uint32_t s = ou->ring[(ou->head + m) & (ou->cap - 1)];
                uint32_t ns = inherit_slot(n, t, s, &c, &rev, &rev_cap);
                if (!ns) goto done;
                n->refs[ns]++;
                u->ring[m] = ns;
            }
            u->head = 0;
            u->count = ou->count;
            n->buffered += ou->count;
            unit_refresh(n, u);
        }
    }

    /* A new event is offered every message t still holds, oldest first, as
     * if it had been registered when they arrived. */
    size_t nlive = 0;
    if (!(live = malloc(t->nslots * sizeof *live)) || !(tmp = malloc(t->nslots * sizeof *tmp)))
        goto done;
    for (uint32_t s = 1; s < t->nslots; s++)
        if (t->refs[s]) live[nlive++] = s;
    sort_slots(live, tmp, nlive, t->seq);
    for (size_t i = 0; i < nlive; i++) {
        wire_slice source, tag;
        if (key(ctx, live[i], &source, &tag) != 0) continue;
        size_t nclaimed = match_units(n, source, tag), k = 0;
        for (size_t j = 0; j < nclaimed; j++) /* continued events saw it already */
            if (out->from[n->claimed[j]->event] < 0) n->claimed[k++] = n->claimed[j];
        if (k == 0) continue;
        for (size_t j = 0; j < k; j++)
            if (ring_reserve(n, n->claimed[j]) != 0) goto done;
        uint32_t ns = inherit_slot(n, t, live[i], &c, &rev, &rev_cap);
        if (!ns) goto done;
        n->refs[ns] += (uint32_t)k;
        for (size_t j = 0; j < k; j++) unit_append(n, n->claimed[j], ns, inherit_release, &c);
        out->rematched++;
    }
    for (size_t i = 0; i < nlive; i++)
        if (!c.map[live[i]]) out->released++;
    rc = 0;
done:
    free(live);
    free(tmp);
    free(rev);
    return rc;
}
