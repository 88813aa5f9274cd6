/* session.c: the session table. Entries live in one array, threaded on a
 * list in start order so that the oldest session is the one dropped at the
 * bound; an open-addressed index of 8-byte slots finds them by id.
 *
 * A stream of notifications keeps the table full, bigger than the caches:
 * every send starts a session and evicts the oldest. So the evicted entry
 * is reused at once, entries are evicted in the order of the array (which
 * the processor reads ahead), and a lookup touches an entry only where a
 * slot's hash bits match: a send misses the caches about once, not at
 * every link of a bucket's chain. */
#include "session/session.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"

typedef struct owed {
    uint32_t key;
    uint64_t seq;
} owed;

/* Our own ids are 36 characters; a script may choose longer ones. */
#define INLINE_ID 40

typedef struct entry {
    uint64_t hash;
    uint32_t older, newer; /* start order, as index + 1 (0: none); `newer` chains free entries */
    int32_t replies;
    uint32_t n_owed, cap_owed;
    uint32_t len;
    signed char type, stage;
    unsigned char tracked; /* debts were recorded: possible() can tell */
    owed one;              /* a unicast's only debtor, without an allocation */
    owed *many;            /* a broadcast's, when there are more */
    char *long_id;         /* the id when longer than INLINE_ID */
    char id[INLINE_ID];
} entry;

/* A slot holds the low 32 bits of its entry's hash and the entry's index + 1;
 * 0 is empty. The table keeps at most half of its slots full. */
#define SLOT(hash, i) ((uint64_t)(uint32_t)(hash) << 32 | ((uint64_t)(i) + 1))
#define SLOT_HASH(s) ((uint32_t)((s) >> 32))
#define SLOT_ENTRY(s) ((uint32_t)(s) - 1)

#define MIN_CAP 256

struct session_table {
    entry *pool;
    uint32_t cap;       /* entries in pool */
    uint32_t free_list; /* index + 1 */
    uint32_t oldest, newest;
    uint64_t *slots;
    size_t mask; /* slots - 1 */
    size_t count, max;
    unsigned long evicted, departures;
    log_limiter lim;
};

static const char *id_of(const entry *e) { return e->long_id ? e->long_id : e->id; }

static int same_id(const entry *e, wire_slice id) {
    return e->len == id.len && memcmp(id_of(e), id.ptr, id.len) == 0;
}

/* The slot holding id, or of the empty slot where it would go. */
static size_t find_slot(const session_table *t, wire_slice id, uint64_t hash) {
    size_t i = hash & t->mask;
    for (uint64_t s; (s = t->slots[i]) != 0; i = (i + 1) & t->mask)
        if (SLOT_HASH(s) == (uint32_t)hash && same_id(&t->pool[SLOT_ENTRY(s)], id)) break;
    return i;
}

static entry *find(const session_table *t, wire_slice id) {
    uint64_t s = t->slots[find_slot(t, id, hash_bytes(id.ptr, id.len))];
    return s ? &t->pool[SLOT_ENTRY(s)] : NULL;
}

/* Empties slot i, moving later slots of the run back so that no lookup
 * stops short of them (linear probing keeps no tombstones). */
static void clear_slot(session_table *t, size_t i) {
    for (size_t j = i;;) {
        t->slots[i] = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            uint64_t s = t->slots[j];
            if (!s) return;
            size_t home = SLOT_HASH(s) & t->mask;
            /* The entry at j may stay when its home lies cyclically in (i, j]. */
            int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) break;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
}

static size_t slot_of_entry(const session_table *t, uint32_t idx) {
    size_t i = t->pool[idx].hash & t->mask;
    while (SLOT_ENTRY(t->slots[i]) != idx) i = (i + 1) & t->mask;
    return i;
}

static void free_debts(entry *e) {
    free(e->many);
    free(e->long_id);
}

/* Moves the live entries, oldest first, into a pool of cap entries and
 * rebuilds the index. 0, or -1 (nothing changed) when out of memory. */
static int rebuild(session_table *t, uint32_t cap) {
    size_t nslots = 1;
    while (nslots < 2 * (size_t)cap) nslots *= 2;
    entry *pool = malloc((size_t)cap * sizeof *pool);
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (!pool || !slots) {
        free(pool);
        free(slots);
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = t->oldest; i; i = t->pool[i - 1].newer) {
        entry *e = &pool[n];
        *e = t->pool[i - 1];
        e->older = n;                         /* index + 1 of the one before */
        e->newer = n + 1 < t->count ? n + 2 : 0;
        size_t s = e->hash & (nslots - 1);
        while (slots[s]) s = (s + 1) & (nslots - 1);
        slots[s] = SLOT(e->hash, n);
        n++;
    }
    for (uint32_t i = n; i < cap; i++) pool[i].newer = i + 1 < cap ? i + 2 : 0;
    free(t->pool);
    free(t->slots);
    t->pool = pool;
    t->cap = cap;
    t->slots = slots;
    t->mask = nslots - 1;
    t->free_list = n < cap ? n + 1 : 0;
    t->oldest = n ? 1 : 0;
    t->newest = n;
    return 0;
}

session_table *session_table_new(size_t max_sessions) {
    session_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->max = max_sessions ? max_sessions : 1;
    if (t->max > UINT32_MAX / 4) t->max = UINT32_MAX / 4; /* indices are 32 bits */
    if (rebuild(t, MIN_CAP) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void session_table_free(session_table *t) {
    if (!t) return;
    for (uint32_t i = t->oldest; i; i = t->pool[i - 1].newer) free_debts(&t->pool[i - 1]);
    free(t->pool);
    free(t->slots);
    free(t);
}

static void remove_entry(session_table *t, entry *e) {
    uint32_t idx = (uint32_t)(e - t->pool);
    clear_slot(t, slot_of_entry(t, idx));
    if (e->older) t->pool[e->older - 1].newer = e->newer;
    else t->oldest = e->newer;
    if (e->newer) t->pool[e->newer - 1].older = e->older;
    else t->newest = e->older;
    free_debts(e);
    e->newer = t->free_list;
    t->free_list = idx + 1;
    t->count--;
    /* A table that once held many sessions gives the memory back. */
    if (t->cap > MIN_CAP && t->count < t->cap / 8) rebuild(t, t->cap / 2);
}

int session_start(session_table *t, wire_slice id, int type, int replies) {
    uint64_t hash = hash_bytes(id.ptr, id.len);
    size_t slot = find_slot(t, id, hash);
    if (t->slots[slot]) {
        t->pool[SLOT_ENTRY(t->slots[slot])].replies += replies;
        return 0;
    }
    int moved = 0;
    if (t->count >= t->max) {
        remove_entry(t, &t->pool[t->oldest - 1]);
        t->evicted++;
        moved = 1;
        unsigned long held;
        if (log_limiter_pass(&t->lim, 10.0, &held))
            log_debug("session table full (%zu sessions): forgot the oldest unanswered one "
                      "(%lu forgotten so far)", t->max, t->evicted);
    }
    if (!t->free_list) {
        size_t cap = (size_t)t->cap * 2;
        if (cap > t->max) cap = t->max;
        if (cap <= t->cap || rebuild(t, (uint32_t)cap) != 0) return -1;
        moved = 1;
    }
    if (moved) slot = find_slot(t, id, hash); /* slots moved */
    char *long_id = NULL;
    if (id.len > INLINE_ID && !(long_id = malloc(id.len))) return -1;
    uint32_t idx = t->free_list - 1;
    entry *e = &t->pool[idx];
    t->free_list = e->newer;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->len = (uint32_t)id.len;
    e->long_id = long_id;
    memcpy(long_id ? long_id : e->id, id.ptr, id.len);
    e->type = (signed char)type;
    e->stage = (signed char)wire_request_stage(type);
    e->replies = replies;
    e->older = t->newest;
    if (t->newest) t->pool[t->newest - 1].newer = idx + 1;
    else t->oldest = idx + 1;
    t->newest = idx + 1;
    t->slots[slot] = SLOT(hash, idx);
    t->count++;
    /* The next eviction touches the next oldest entry's slot and the entry after it. */
    if (t->count >= t->max && t->oldest) {
        const entry *next = &t->pool[t->oldest - 1];
        __builtin_prefetch(&t->slots[next->hash & t->mask], 1);
        if (next->newer) __builtin_prefetch(&t->pool[next->newer - 1], 1);
    }
    return 1;
}

void session_unstart(session_table *t, wire_slice id, int replies, int is_new) {
    entry *e = find(t, id);
    if (!e) return; /* evicted meanwhile */
    e->replies -= replies;
    if (is_new && e->replies <= 0 && e->n_owed == 0) remove_entry(t, e);
}

static owed *owed_at(entry *e, size_t i) { return e->many ? &e->many[i] : &e->one; }

int session_owe(session_table *t, wire_slice id, uint32_t key, uint64_t seq) {
    /* Usually the session just started: no lookup. */
    entry *e = t->newest ? &t->pool[t->newest - 1] : NULL;
    if (!e || !same_id(e, id)) e = find(t, id);
    if (!e) return 0;
    e->tracked = 1;
    if (e->n_owed == 0 && !e->many) {
        e->one = (owed){key, seq};
        e->n_owed = 1;
        return 0;
    }
    if (!e->many || e->n_owed == e->cap_owed) {
        uint32_t cap = e->cap_owed ? e->cap_owed * 2 : 8;
        owed *m = realloc(e->many, cap * sizeof *m);
        if (!m) return -1;
        if (!e->many) m[0] = e->one;
        e->many = m;
        e->cap_owed = cap;
    }
    e->many[e->n_owed++] = (owed){key, seq};
    return 0;
}

/* Takes out the debts of key that match upto; returns how many. */
static size_t settle(entry *e, uint32_t key, uint64_t upto, int one_only) {
    size_t n = 0;
    for (size_t i = e->n_owed; i-- > 0;) {
        owed *o = owed_at(e, i);
        if (o->key != key || (o->seq > upto && o->seq != SESSION_NOT_SENT) ||
            (o->seq == SESSION_NOT_SENT && upto != UINT64_MAX))
            continue;
        *o = *owed_at(e, --e->n_owed);
        n++;
        if (one_only) break;
    }
    return n;
}

int session_on_arrival(session_table *t, const wire_header *h,
                       uint32_t (*key_of)(void *ctx, wire_slice name), void *ctx) {
    if (t->count == 0) return SESSION_DELIVER;
    entry *e = find(t, h->session_id);
    if (!e || e->type != h->session_type) return SESSION_DELIVER;
    if (h->session_stage == STAGE_TASK_RECEIVE) {
        e->stage = STAGE_TASK_RECEIVE;
        return SESSION_SWALLOW;
    }
    int final = h->session_stage == STAGE_TASK_COMPLETE ||
                h->session_stage == STAGE_NOTIFICATION_RECEIVE || h->session_type == SESSION_NONE;
    if (final) {
        e->stage = (signed char)h->session_stage;
        uint32_t source_key = e->n_owed ? key_of(ctx, h->source) : 0;
        if (source_key) settle(e, source_key, UINT64_MAX, 1);
        if (--e->replies <= 0) remove_entry(t, e);
    }
    return SESSION_DELIVER;
}

int session_stage(session_table *t, wire_slice id) {
    entry *e = find(t, id);
    return e ? e->stage : STAGE_NONE;
}

size_t session_peer_gone(session_table *t, uint32_t key, uint64_t upto) {
    size_t total = 0;
    for (uint32_t i = t->oldest; i; i = t->pool[i - 1].newer) {
        entry *e = &t->pool[i - 1];
        size_t n = settle(e, key, upto, 0);
        e->replies -= (int32_t)n;
        total += n;
    }
    if (total) t->departures++;
    return total;
}

int session_possible(session_table *t, wire_slice id) {
    entry *e = find(t, id);
    if (!e || !e->tracked) return -1;
    int replies = e->replies > 0 ? e->replies : 0;
    return e->n_owed < (uint32_t)replies ? (int)e->n_owed : replies;
}

unsigned long session_departures(const session_table *t) { return t->departures; }
size_t session_count(const session_table *t) { return t->count; }
unsigned long session_evicted(const session_table *t) { return t->evicted; }
