/* peers.c: the peer table, kept in line with discovery. Members of the
 * followed types are connected when they join, reconnected when they come
 * back at a new address, and dropped when they leave or their heartbeat
 * expires; other names are looked up when a message is sent to them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/proxy_impl.h"

static proxy_peer *peer_named(const proxy *p, const char *name) {
    for (size_t i = 0; i < p->n_peers; i++)
        if (strcmp(p->peers[i]->name, name) == 0) return p->peers[i];
    return NULL;
}

void proxy_free_peer(proxy *p, proxy_peer *pp, int discard) {
    if (pp->tp) transport_disconnect(p->tr, pp->tp, discard);
    proxy_free_cache(pp);
    free(pp->name);
    free(pp->type);
    free(pp->address);
    free(pp);
}

static void peer_remove(proxy *p, size_t i) {
    proxy_peer *pp = p->peers[i];
    if (!p->cfg.enable_rejoin || proxy_remember_peer(p, pp) != 0) proxy_free_peer(p, pp, 1);
    p->peers[i] = p->peers[--p->n_peers];
    p->peers_version++;
}

int proxy_follow_type(proxy *p, const char *type) {
    for (size_t i = 0; i < p->n_types; i++)
        if (strcmp(p->types[i], type) == 0) return 0;
    char **t = realloc(p->types, (p->n_types + 1) * sizeof *t);
    if (!t) return -1;
    p->types = t;
    if (!(t[p->n_types] = strdup(type))) return -1;
    p->n_types++;
    return 0;
}

/* A remembered peer registered again (at a new address): it is live again,
 * with what was kept for it, which goes out first. The table has room. */
static proxy_peer *peer_rejoined(proxy *p, proxy_peer *pp, const discovery_member *m,
                                 transport_peer *tp) {
    char *address = strdup(m->address), *type = strdup(m->type);
    if (address && type) {
        free(pp->address);
        free(pp->type);
        pp->address = address;
        pp->type = type;
    } else {
        free(address);
        free(type);
    }
    pp->tp = tp;
    p->peers[p->n_peers++] = pp;
    p->peers_version++;
    log_info("peer '%s' rejoined group '%s' at %s after %.1f s; sending the %zu message%s kept "
             "for it", pp->name, p->group, pp->address, clock_now() - pp->left, pp->n_cached,
             proxy_plural(pp->n_cached));
    return pp;
}

/* Connects a member, or reconnects it when it came back at a new address. */
static proxy_peer *peer_connect(proxy *p, const discovery_member *m, char *err, size_t errlen) {
    proxy_peer *pp = peer_named(p, m->name);
    if (pp && strcmp(pp->address, m->address) == 0) {
        if (strcmp(pp->type, m->type) != 0) {
            char *t = strdup(m->type);
            if (t) {
                free(pp->type);
                pp->type = t;
                p->peers_version++;
            }
        }
        return pp;
    }
    transport_peer *tp = transport_connect(p->tr, m->address, err, errlen);
    if (!tp) return NULL;
    if (pp) { /* restarted elsewhere: what was queued for the old process is moot */
        log_info("peer '%s' moved from %s to %s; reconnected", m->name, pp->address, m->address);
        transport_disconnect(p->tr, pp->tp, 1);
        free(pp->address);
        free(pp->type);
        pp->tp = tp;
        pp->address = strdup(m->address);
        pp->type = strdup(m->type);
        p->peers_version++;
        return pp;
    }
    if (p->n_peers == p->cap_peers) {
        size_t cap = p->cap_peers ? p->cap_peers * 2 : 16;
        proxy_peer **a = realloc(p->peers, cap * sizeof *a);
        if (!a) {
            transport_disconnect(p->tr, tp, 1);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        p->peers = a;
        p->cap_peers = cap;
    }
    proxy_peer *back = proxy_take_gone(p, m->name);
    if (back) return peer_rejoined(p, back, m, tp);
    pp = calloc(1, sizeof *pp);
    if (pp) {
        pp->name = strdup(m->name);
        pp->type = strdup(m->type);
        pp->address = strdup(m->address);
    }
    if (!pp || !pp->name || !pp->type || !pp->address) {
        transport_disconnect(p->tr, tp, 1);
        if (pp) {
            pp->tp = NULL;
            proxy_free_peer(p, pp, 1);
        }
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pp->tp = tp;
    p->peers[p->n_peers++] = pp;
    p->peers_version++;
    log_debug("connected to %s '%s' at %s", pp->type, pp->name, pp->address);
    return pp;
}

/* Brings the peer table in line with discovery: new members are connected,
 * moved ones reconnected, members whose heartbeat expired dropped. */
void proxy_refresh_peers(proxy *p) {
    p->next_refresh = clock_now() + p->cfg.peer_refresh_interval;
    proxy_expire_gone(p);
    for (size_t t = 0; t < p->n_types; t++) {
        const char *type = p->types[t];
        discovery_member *m;
        size_t n;
        char err[512];
        unsigned long held;
        if (discovery_lookup_type(p->disc, type, &m, &n, err, sizeof err) != DISCOVERY_OK) {
            if (log_limiter_pass(&p->refresh_lim, 10.0, &held))
                log_warn("cannot refresh the peers of group '%s' (%lu more held back): %s",
                         p->group, held, err);
            return;
        }
        for (size_t i = 0; i < p->n_peers; i++)
            if (strcmp(p->peers[i]->type, type) == 0)
                p->peers[i]->seen = strcmp(p->peers[i]->name, p->name) == 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(m[i].name, p->name) == 0) continue;
            proxy_peer *pp = peer_connect(p, &m[i], err, sizeof err);
            if (pp) pp->seen = 1;
            else if (log_limiter_pass(&p->refresh_lim, 10.0, &held))
                log_warn("cannot connect to '%s': %s", m[i].name, err);
        }
        discovery_free_members(m, n);
        for (size_t i = p->n_peers; i-- > 0;) {
            proxy_peer *pp = p->peers[i];
            if (strcmp(pp->type, type) != 0 || pp->seen) continue;
            log_write(p->cfg.hub ? LOG_DEBUG : LOG_INFO, "peer '%s' left group '%s'%s", pp->name,
                      p->group, p->cfg.enable_rejoin ? "; it is expected back (enable_rejoin)" : "");
            peer_remove(p, i);
        }
    }
    proxy_flush_caches(p);
}

void proxy_tick(proxy *p) {
    /* Called on every send: the clock is read on every 16th only. */
    if (p->next_refresh == 0 || ((++p->ticks & 15) == 0 && clock_now() >= p->next_refresh))
        proxy_refresh_peers(p);
}

size_t proxy_peer_count(const proxy *p) { return p->n_peers; }
proxy_peer *proxy_peer_at(const proxy *p, size_t i) { return i < p->n_peers ? p->peers[i] : NULL; }
const char *proxy_peer_name(const proxy_peer *pp) { return pp->name; }
const char *proxy_peer_type(const proxy_peer *pp) { return pp->type; }

proxy_peer *proxy_find_peer(proxy *p, const char *name, char *err, size_t errlen) {
    proxy_peer *pp = peer_named(p, name);
    if (pp) return pp;
    discovery_member m;
    char why[512];
    int rc = discovery_lookup_name(p->disc, name, &m, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "cannot look up destination '%s' in group '%s': %s", name,
                 p->group, why);
        return NULL;
    }
    if (rc == 0) {
        proxy_expire_gone(p);
        /* Down, but expected back: proxy_send keeps the message or says so. */
        if ((pp = proxy_gone_named(p, name))) return pp;
        char known[512] = "";
        size_t k = 0;
        for (size_t i = 0; i < p->n_peers && k + 2 < sizeof known; i++)
            k += snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", p->peers[i]->name);
        if (k >= sizeof known) strcpy(known + sizeof known - 5, "...");
        snprintf(err, errlen, "unknown destination '%s': no live member of group '%s' has that "
                 "name (connected peers: %s)", name, p->group, p->n_peers ? known : "none");
        return NULL;
    }
    pp = peer_connect(p, &m, why, sizeof why);
    if (!pp) snprintf(err, errlen, "cannot connect to '%s' in group '%s': %s", name, p->group, why);
    else proxy_follow_type(p, m.type);
    discovery_free_member(&m);
    return pp;
}
