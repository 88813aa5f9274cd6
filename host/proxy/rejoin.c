/* rejoin.c: peers that left and are expected back (enable_rejoin), the
 * messages kept for them while they are down (enable_message_cache_for_rejoin),
 * and the wait for minimal_peers before a send. A restarted member registers
 * again at a new address; peers.c connects it and takes its remembered entry
 * (and cache) back from here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/proxy_impl.h"

/* ---- remembered peers ---------------------------------------------------- */

int proxy_remember_peer(proxy *p, proxy_peer *pp) {
    if (p->n_gone == p->cap_gone) {
        size_t cap = p->cap_gone ? p->cap_gone * 2 : 8;
        proxy_peer **a = realloc(p->gone, cap * sizeof *a);
        if (!a) return -1;
        p->gone = a;
        p->cap_gone = cap;
    }
    /* What ZeroMQ still holds for the dead process cannot arrive: drop it. */
    if (pp->tp) transport_disconnect(p->tr, pp->tp, 1);
    pp->tp = NULL;
    pp->left = clock_now();
    pp->expires = pp->left + p->cfg.peers_catch_lifetime;
    p->gone[p->n_gone++] = pp;
    return 0;
}

static size_t gone_index(const proxy *p, const char *name) {
    for (size_t i = 0; i < p->n_gone; i++)
        if (strcmp(p->gone[i]->name, name) == 0) return i;
    return (size_t)-1;
}

proxy_peer *proxy_gone_named(proxy *p, const char *name) {
    size_t i = gone_index(p, name);
    return i == (size_t)-1 ? NULL : p->gone[i];
}

proxy_peer *proxy_take_gone(proxy *p, const char *name) {
    size_t i = gone_index(p, name);
    if (i == (size_t)-1) return NULL;
    proxy_peer *pp = p->gone[i];
    p->gone[i] = p->gone[--p->n_gone];
    return pp;
}

static void forget(proxy *p, size_t i, int expired) {
    proxy_peer *pp = p->gone[i];
    if (expired && pp->n_cached)
        log_warn("peer '%s' of group '%s' did not come back within peers_catch_lifetime "
                 "(%g s); dropped the %zu message%s kept for it", pp->name, p->group,
                 p->cfg.peers_catch_lifetime, pp->n_cached, proxy_plural(pp->n_cached));
    else if (pp->n_cached)
        log_warn("'%s' leaves group '%s': dropped the %zu message%s kept for '%s', which is "
                 "still down", p->name, p->group, pp->n_cached, proxy_plural(pp->n_cached),
                 pp->name);
    else if (expired)
        log_info("peer '%s' of group '%s' did not come back within peers_catch_lifetime "
                 "(%g s); forgotten", pp->name, p->group, p->cfg.peers_catch_lifetime);
    p->gone[i] = p->gone[--p->n_gone];
    proxy_free_peer(p, pp, 1);
}

void proxy_expire_gone(proxy *p) {
    if (p->n_gone == 0) return;
    double now = clock_now();
    for (size_t i = p->n_gone; i-- > 0;)
        if (now >= p->gone[i]->expires) forget(p, i, 1);
}

void proxy_forget_gone(proxy *p) {
    while (p->n_gone) forget(p, p->n_gone - 1, 0);
    free(p->gone);
    p->gone = NULL;
    p->cap_gone = 0;
}

/* ---- the cache ----------------------------------------------------------- */

void proxy_free_cache(proxy_peer *pp) {
    while (pp->cache_head) proxy_cache_pop(pp);
}

void proxy_cache_pop(proxy_peer *pp) {
    cached_msg *c = pp->cache_head;
    if (!c) return;
    pp->cache_head = c->next;
    if (!pp->cache_head) pp->cache_tail = NULL;
    pp->n_cached--;
    blob_unref(c->header);
    blob_unref(c->payload);
    free(c);
}

int proxy_cache_message(proxy *p, proxy_peer *pp, const char *header, size_t header_len,
                        blob *payload, char *err, size_t errlen) {
    double ago = clock_now() - pp->left;
    if (!p->cfg.enable_cache) {
        snprintf(err, errlen, "'%s' in group '%s' is down (it left %.1f s ago and is expected "
                 "back within peers_catch_lifetime, %g s); messages to a peer that is down are "
                 "kept only with enable_message_cache_for_rejoin", pp->name, p->group, ago,
                 p->cfg.peers_catch_lifetime);
        return -1;
    }
    if (pp->n_cached >= p->cfg.max_cache) {
        snprintf(err, errlen, "'%s' in group '%s' is down (it left %.1f s ago) and already has "
                 "%zu message%s kept for it (max_length_for_message_cache); this one is not "
                 "sent: wait until it is back, or raise the bound", pp->name, p->group, ago,
                 pp->n_cached, proxy_plural(pp->n_cached));
        return -1;
    }
    cached_msg *c = calloc(1, sizeof *c);
    if (c) c->header = blob_copy(header, header_len);
    if (!c || !c->header) {
        free(c);
        snprintf(err, errlen, "out of memory while keeping a message for '%s', which is down",
                 pp->name);
        return -1;
    }
    c->payload = payload ? blob_ref(payload) : NULL;
    if (pp->cache_tail) pp->cache_tail->next = c;
    else pp->cache_head = c;
    pp->cache_tail = c;
    pp->n_cached++;
    return 0;
}

/* Sends kept messages to a live peer while its queue takes them now. */
static void flush_now(proxy *p, proxy_peer *pp) {
    size_t sent = 0;
    while (pp->cache_head) {
        cached_msg *c = pp->cache_head;
        char why[256];
        int rc = transport_try_send(p->tr, pp->tp, blob_data(c->header), blob_size(c->header),
                                    c->payload, why, sizeof why);
        if (rc == 0) break; /* full: the rest goes with the next send, or later */
        if (rc < 0) log_warn("dropped a message kept for '%s': %s", pp->name, why);
        proxy_cache_pop(pp);
        sent += rc > 0;
    }
    if (sent) log_debug("delivered %zu message%s kept for '%s'", sent, proxy_plural(sent), pp->name);
}

void proxy_flush_caches(proxy *p) {
    for (size_t i = 0; i < p->n_peers; i++)
        if (p->peers[i]->n_cached) flush_now(p, p->peers[i]);
}

/* ---- minimal_peers ------------------------------------------------------- */

static int minimal_for(const proxy *p, const char *type) {
    for (size_t i = 0; i < p->n_minimal; i++)
        if (strcmp(p->minimal[i].type, type) == 0) return p->minimal[i].count;
    return p->cfg.minimal_any;
}

int proxy_wants_minimal(const proxy *p) { return p->n_minimal > 0 || p->cfg.minimal_any > 0; }

static size_t live_of_type(const proxy *p, const char *type) {
    size_t n = 0;
    for (size_t i = 0; i < p->n_peers; i++) n += strcmp(p->peers[i]->type, type) == 0;
    return n;
}

/* One step of the wait: refresh when due, else wait for the network (taking
 * what arrives into the buffer), discovery's notifications and signals. */
static void minimal_step(proxy *p, double deadline) {
    double now = clock_now();
    if (p->next_refresh == 0 || now >= p->next_refresh) {
        proxy_refresh_peers(p);
        return;
    }
    double t = p->next_refresh - now;
    if (deadline - now < t) t = deadline - now;
    int readable = p->buf.count < p->cfg.max_buffered_messages;
    /* Watched descriptors would end every wait at once until their owner
     * reads them, which it cannot do from inside this call: leave them out. */
    int n_extra = p->n_extra;
    p->n_extra = 0;
    int bits = proxy_wait_events(p, readable, NULL, t);
    p->n_extra = n_extra;
    if (bits & TRANSPORT_READABLE) {
        int full;
        proxy_pump(p, NULL, NULL, &full);
    }
}

int proxy_await_minimal(proxy *p, const char *type, char *err, size_t errlen) {
    int need = minimal_for(p, type);
    if (need <= 0 || live_of_type(p, type) >= (size_t)need) return 0;
    if (proxy_follow_type(p, type) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    double start = clock_now(), deadline = start + p->cfg.minimal_timeout;
    p->next_refresh = 0; /* look at the registry first: they may be there already */
    for (;;) {
        minimal_step(p, deadline);
        size_t have = live_of_type(p, type);
        if (have >= (size_t)need) return 0;
        if (clock_now() >= deadline) {
            snprintf(err, errlen, "only %zu of %d peers of type '%s' (minimal_peers) are "
                     "connected in group '%s' after waiting %.1f s "
                     "(timeout_for_minimal_peer_number); start more, or lower minimal_peers",
                     have, need, type, p->group, clock_now() - start);
            return -1;
        }
    }
}
