/* session.c: a chained hash of session ids, threaded on a list in start
 * order so that the oldest session is the one dropped at the bound. */
#include "session/session.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"

typedef struct owed {
    uint32_t key;
    uint64_t seq;
} owed;

typedef struct entry {
    struct entry *chain;   /* next in the bucket */
    struct entry **pprev;  /* what points to it in the bucket: removal needs no lookup */
    struct entry *older, *newer;
    int type, stage, replies;
    owed one;            /* a unicast's only debtor, without an allocation */
    owed *many;          /* a broadcast's, when there are more */
    size_t n_owed, cap_owed;
    int tracked; /* debts were recorded: possible() can tell */
    size_t len;
    char id[];
} entry;

struct session_table {
    entry **buckets;
    size_t nbuckets, count, max;
    entry *spare; /* freed entries of small ids, chained by `chain` */
    size_t n_spare;
    entry *oldest, *newest;
    unsigned long evicted, departures;
    log_limiter lim;
};

#define hash hash_bytes

/* Entries for ids up to this long are kept for reuse when freed: a stream of
 * notifications starts (and evicts) one session per message. */
#define SMALL_ID 48
#define MAX_SPARE 1024

session_table *session_table_new(size_t max_sessions) {
    session_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nbuckets = 1024;
    t->max = max_sessions ? max_sessions : 1;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

static void free_entry(entry *e) {
    free(e->many);
    free(e);
}

static void release(session_table *t, entry *e) {
    if (e->len > SMALL_ID || t->n_spare >= MAX_SPARE) {
        free_entry(e);
        return;
    }
    free(e->many);
    e->chain = t->spare;
    t->spare = e;
    t->n_spare++;
}

static entry *acquire(session_table *t, size_t len) {
    entry *e = t->spare;
    if (len <= SMALL_ID && e) {
        t->spare = e->chain;
        t->n_spare--;
    } else if (!(e = malloc(sizeof *e + (len <= SMALL_ID ? SMALL_ID : len)))) {
        return NULL;
    }
    memset(e, 0, sizeof *e);
    return e;
}

void session_table_free(session_table *t) {
    if (!t) return;
    entry *e = t->oldest;
    while (e) {
        entry *next = e->newer;
        free_entry(e);
        e = next;
    }
    while (t->spare) {
        entry *next = t->spare->chain;
        free(t->spare);
        t->spare = next;
    }
    free(t->buckets);
    free(t);
}

static entry **find_slot(session_table *t, wire_slice id) {
    entry **slot = &t->buckets[hash(id.ptr, id.len) & (t->nbuckets - 1)];
    while (*slot && !((*slot)->len == id.len && memcmp((*slot)->id, id.ptr, id.len) == 0))
        slot = &(*slot)->chain;
    return slot;
}

static void remove_entry(session_table *t, entry *e) {
    *e->pprev = e->chain;
    if (e->chain) e->chain->pprev = e->pprev;
    if (e->older) e->older->newer = e->newer;
    else t->oldest = e->newer;
    if (e->newer) e->newer->older = e->older;
    else t->newest = e->older;
    t->count--;
    release(t, e);
}

static void grow(session_table *t) {
    size_t n = t->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (entry *e = t->oldest; e; e = e->newer) {
        entry **slot = &b[hash(e->id, e->len) & (n - 1)];
        e->chain = *slot;
        if (e->chain) e->chain->pprev = &e->chain;
        e->pprev = slot;
        *slot = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

int session_start(session_table *t, wire_slice id, int type, int replies) {
    entry **slot = find_slot(t, id);
    if (*slot) {
        (*slot)->replies += replies;
        return 0;
    }
    if (t->count >= t->max || t->count >= t->nbuckets) {
        if (t->count >= t->max) {
            remove_entry(t, t->oldest);
            t->evicted++;
            /* A stream of sessions nobody answers evicts one per send, from a
             * table bigger than the caches: what the next eviction touches is
             * fetched now, while the script does other work. */
            entry *next = t->oldest;
            if (next) {
                __builtin_prefetch(next->chain, 1);
                __builtin_prefetch(next->pprev, 1);
                __builtin_prefetch(next->newer, 1);
            }
            unsigned long held;
            if (log_limiter_pass(&t->lim, 10.0, &held))
                log_debug("session table full (%zu sessions): forgot the oldest unanswered one "
                          "(%lu forgotten so far)", t->max, t->evicted);
        }
        if (t->count >= t->nbuckets) grow(t);
        slot = find_slot(t, id); /* the chains changed */
    }
    entry *e = acquire(t, id.len);
    if (!e) return -1;
    memcpy(e->id, id.ptr, id.len);
    e->len = id.len;
    e->type = type;
    e->stage = wire_request_stage(type);
    e->replies = replies;
    e->older = t->newest;
    if (t->newest) t->newest->newer = e;
    else t->oldest = e;
    t->newest = e;
    e->pprev = slot; /* the end of its chain: e->chain stays NULL (acquire cleared it) */
    *slot = e;
    t->count++;
    return 0;
}

static owed *owed_at(entry *e, size_t i) { return e->many ? &e->many[i] : &e->one; }

int session_owe(session_table *t, wire_slice id, uint32_t key, uint64_t seq) {
    /* Usually the session just started: no lookup (with the table larger
     * than the caches, a lookup misses them). */
    entry *e = t->newest;
    if (!e || e->len != id.len || memcmp(e->id, id.ptr, id.len) != 0) e = *find_slot(t, id);
    if (!e) return 0;
    e->tracked = 1;
    if (e->n_owed == 0 && !e->many) {
        e->one = (owed){key, seq};
        e->n_owed = 1;
        return 0;
    }
    if (!e->many || e->n_owed == e->cap_owed) {
        size_t cap = e->cap_owed ? e->cap_owed * 2 : 8;
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
    entry **slot = find_slot(t, h->session_id);
    entry *e = *slot;
    if (!e || e->type != h->session_type) return SESSION_DELIVER;
    if (h->session_stage == STAGE_TASK_RECEIVE) {
        e->stage = STAGE_TASK_RECEIVE;
        return SESSION_SWALLOW;
    }
    int final = h->session_stage == STAGE_TASK_COMPLETE ||
                h->session_stage == STAGE_NOTIFICATION_RECEIVE || h->session_type == SESSION_NONE;
    if (final) {
        e->stage = h->session_stage;
        uint32_t source_key = e->n_owed ? key_of(ctx, h->source) : 0;
        if (source_key) settle(e, source_key, UINT64_MAX, 1);
        if (--e->replies <= 0) remove_entry(t, e);
    }
    return SESSION_DELIVER;
}

int session_stage(session_table *t, wire_slice id) {
    entry *e = *find_slot(t, id);
    return e ? e->stage : STAGE_NONE;
}

size_t session_peer_gone(session_table *t, uint32_t key, uint64_t upto) {
    size_t total = 0;
    for (entry *e = t->oldest; e; e = e->newer) {
        size_t n = settle(e, key, upto, 0);
        e->replies -= (int)n;
        total += n;
    }
    if (total) t->departures++;
    return total;
}

int session_possible(session_table *t, wire_slice id) {
    entry *e = *find_slot(t, id);
    if (!e || !e->tracked) return -1;
    int replies = e->replies > 0 ? e->replies : 0;
    return e->n_owed < (size_t)replies ? (int)e->n_owed : replies;
}

unsigned long session_departures(const session_table *t) { return t->departures; }
size_t session_count(const session_table *t) { return t->count; }
unsigned long session_evicted(const session_table *t) { return t->evicted; }
