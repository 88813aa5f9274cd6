/* send.c: sending to a destination by name. Membership is brought up to
 * date first (a peer that restarted or left while the script was busy
 * elsewhere is known before its entry is used); a full queue is waited
 * for in the one wait, which keeps receiving meanwhile, so that two
 * proxies sending to each other cannot block each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/loop.h"
#include "proxy/membership.h"
#include "proxy/outbox.h"

/* Lookups of names not known yet wait at most this long for the registry:
 * a hung Redis must not stall the script. */
#define LOOKUP_TIMEOUT 0.1

static int minimal_for(const proxy *p, const char *type) {
    for (size_t i = 0; i < p->n_minimal; i++)
        if (strcmp(p->minimal[i].type, type) == 0) return p->minimal[i].count;
    return p->cfg.minimal_any;
}

typedef struct minimal_wait {
    proxy *p;
    const char *type;
    size_t need;
} minimal_wait;

static int enough_peers(void *ctx) {
    minimal_wait *m = ctx;
    return peer_table_live_of_type(&m->p->peers, m->type) >= m->need;
}

/* Waits until minimal_peers live peers of a type are connected. */
static int await_minimal(proxy *p, const char *type, char *err, size_t errlen) {
    int need = minimal_for(p, type);
    if (need <= 0 || peer_table_live_of_type(&p->peers, type) >= (size_t)need) return 0;
    if (membership_follow(p, type) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    double start = clock_now();
    minimal_wait m = {p, type, (size_t)need};
    proxy_wait_spec w = {.deadline = start + p->cfg.minimal_timeout, .done = enough_peers, .ctx = &m};
    int rc = loop_run(p, &w, NULL);
    if (rc == PROXY_DONE) return 0;
    if (rc == PROXY_INTERRUPTED) snprintf(err, errlen, "interrupted");
    else
        snprintf(err, errlen, "only %zu of %d peers of type '%s' (minimal_peers) are connected "
                 "in group '%s' after waiting %.1f s (timeout_for_minimal_peer_number); start "
                 "more, or lower minimal_peers", peer_table_live_of_type(&p->peers, type), need,
                 type, p->group, clock_now() - start);
    return -1;
}

/* One message to one peer, waiting while its queue is full. */
static int send_to_peer(proxy *p, peer *pe, const wire_header *h, blob *payload, uint64_t *seq,
                        char *err, size_t errlen) {
    double start = -1;
    char *name = NULL;
    for (;;) {
        int rc = outbox_put(p, pe, h, payload, seq, err, errlen);
        if (rc != OUTBOX_FULL) {
            free(name);
            return rc == OUTBOX_ERROR ? -1 : 0;
        }
        /* The clock is read only when a queue is full. */
        double now = clock_now();
        if (start < 0) {
            start = now;
            if (!(name = strdup(pe->name))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        if (p->cfg.send_timeout >= 0 && now - start >= p->cfg.send_timeout) {
            snprintf(err, errlen, "sending to '%s' in group '%s': its queue has been full for "
                     "%.1f s (send_timeout); is it still receiving?", name, p->group,
                     now - start);
            free(name);
            return -1;
        }
        double deadline = p->cfg.send_timeout >= 0 ? start + p->cfg.send_timeout : -1;
        proxy_wait_spec w = {.deadline = deadline};
        if (loop_run(p, &w, pe) == PROXY_INTERRUPTED) {
            snprintf(err, errlen, "interrupted");
            free(name);
            return -1;
        }
        /* Membership may have moved on meanwhile: the entry may be gone. */
        if (!(pe = peer_table_find(&p->peers, name, strlen(name)))) {
            snprintf(err, errlen, "sending to '%s' in group '%s': it left the group while its "
                     "queue was full", name, p->group);
            free(name);
            return -1;
        }
    }
}

int proxy_send(proxy *p, wire_header *h, blob *payload, int flags, char *err, size_t errlen) {
    h->group = (wire_slice){p->group, strlen(p->group)};
    membership_sync(p);
    peer *pe = membership_find(p, h->destination, LOOKUP_TIMEOUT, err, errlen);
    if (!pe) return -1;
    if ((flags & PROXY_SEND_MINIMAL) && (p->n_minimal || p->cfg.minimal_any)) {
        char type[WIRE_MAX_NAME + 1];
        snprintf(type, sizeof type, "%s", pe->type);
        if (await_minimal(p, type, err, errlen) != 0) return -1;
        /* The wait refreshed the table: look again. */
        if (!(pe = membership_find(p, h->destination, LOOKUP_TIMEOUT, err, errlen))) return -1;
    }
    uint32_t key = pe->key;
    uint64_t seq;
    /* Followed before it leaves: its reply (or ack) may come during the send's own wait. */
    int started = (flags & PROXY_SEND_SESSION)
                      ? session_start(p->sessions, h->session_id, h->session_type, 1)
                      : -1;
    int follow = started >= 0, unfollowed = (flags & PROXY_SEND_SESSION) && !follow;
    if (send_to_peer(p, pe, h, payload, &seq, err, errlen) != 0) {
        if (follow) session_unstart(p->sessions, h->session_id, 1, started == 1);
        return -1;
    }
    if (follow && session_owe(p->sessions, h->session_id, key, seq) != 0) unfollowed = 1;
    unsigned long held;
    if (unfollowed && log_limiter_pass(&p->oom_lim, 5.0, &held))
        log_warn("out of memory: session %.*s is not followed (%lu more held back)",
                 (int)h->session_id.len, h->session_id.ptr, held);
    return 0;
}

int proxy_broadcast(proxy *p, const char *type, wire_header *h, blob *payload, int *reached,
                    char *err, size_t errlen) {
    *reached = 0;
    h->group = (wire_slice){p->group, strlen(p->group)};
    membership_sync(p);
    if (membership_follow(p, type) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (await_minimal(p, type, err, errlen) != 0) return -1;
    /* The sends may wait, and membership may change the table meanwhile:
     * an entry is used as it is while the table's version stays, and found
     * again by its key after a change (it may be gone). */
    typedef struct target {
        peer *pe;
        uint32_t key;
    } target;
    size_t n = 0;
    target *to = malloc((p->peers.n ? p->peers.n : 1) * sizeof *to);
    if (!to) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->peers.n; i++) {
        peer *pe = p->peers.all[i];
        if (pe->state == PEER_LIVE && strcmp(pe->type, type) == 0)
            to[n++] = (target){pe, pe->key};
    }
    if (n == 0) {
        free(to);
        snprintf(err, errlen, "no connected peers of type '%s' in group '%s'", type, p->group);
        return -1;
    }
    unsigned long version = p->peers.version;
    int started = session_start(p->sessions, h->session_id, h->session_type, (int)n);
    int rc = started < 0 ? -1 : 0;
    if (rc != 0) snprintf(err, errlen, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        peer *pe = p->peers.version == version ? to[i].pe
                                               : peer_table_find_key(&p->peers, to[i].key);
        uint64_t seq;
        if (!pe) { /* gone meanwhile: one reply fewer */
            session_unstart(p->sessions, h->session_id, 1, started == 1);
            continue;
        }
        rc = send_to_peer(p, pe, h, payload, &seq, err, errlen);
        if (rc == 0) {
            (*reached)++;
            session_owe(p->sessions, h->session_id, to[i].key, seq);
        }
    }
    if (rc != 0 && started >= 0) /* the rest will not answer */
        session_unstart(p->sessions, h->session_id, (int)(n - (size_t)*reached),
                        started == 1);
    free(to);
    return rc;
}
