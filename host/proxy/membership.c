#include "proxy/membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/outbox.h"

/* A peer that says goodbye acknowledged what it got just before, but the
 * acknowledgement travels over ZeroMQ and the goodbye through Redis, and
 * either may come first: it is given this long to arrive. */
#define GOODBYE_ACK_GRACE 1.0

/* In-process groups come and go by the dozen in specs: not worth a line each. */
#define CHANGE_LEVEL(p) ((p)->cfg.hub ? LOG_DEBUG : LOG_INFO)

int membership_follow(proxy *p, const char *type) {
    for (size_t i = 0; i < p->n_types; i++)
        if (strcmp(p->types[i], type) == 0) return 0;
    char **t = realloc(p->types, (p->n_types + 1) * sizeof *t);
    if (!t) return -1;
    p->types = t;
    if (!(t[p->n_types] = strdup(type))) return -1;
    p->n_types++;
    p->next_membership = 0;
    return discovery_follow(p->disc, type);
}

static peer *connect_member(proxy *p, const registration *r, char *err, size_t errlen) {
    transport_peer *tp =
        transport_connect(p->tr, r->address, p->closed ? r->curve : NULL, err, errlen);
    if (!tp) return NULL;
    peer *pe = peer_table_add(&p->peers, r);
    if (!pe) {
        transport_disconnect(p->tr, tp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pe->tp = tp;
    log_debug("connected to %s '%s' at %s", pe->type, pe->name, pe->address);
    return pe;
}

/* The peer is gone for good: its sessions end, what it was owed is counted. */
static uint64_t forget(proxy *p, peer *pe, int expired) {
    uint64_t unacked = transport_unacked(p->tr, pe->tp, NULL), kept = pe->n_kept;
    session_peer_gone(p->sessions, pe->key, UINT64_MAX);
    if (expired && kept)
        log_warn("peer '%s' of group '%s' did not come back within peers_catch_lifetime "
                 "(%g s); dropped the %llu message%s kept for it", pe->name, p->group,
                 p->cfg.peers_catch_lifetime, (unsigned long long)kept, proxy_plural(kept));
    else if (expired)
        log_info("peer '%s' of group '%s' did not come back within peers_catch_lifetime "
                 "(%g s); forgotten", pe->name, p->group, p->cfg.peers_catch_lifetime);
    if (unacked)
        log_warn("%llu message%s sent to '%s' in group '%s' %s not acknowledged before it "
                 "left; %s may not have arrived", (unsigned long long)unacked,
                 proxy_plural(unacked), pe->name, p->group, unacked == 1 ? "was" : "were",
                 unacked == 1 ? "it" : "they");
    senders_owe_nothing(&p->senders, pe->name);
    transport_disconnect(p->tr, pe->tp);
    peer_table_remove(&p->peers, pe);
    if (p->closing) p->lost_while_closing += unacked + kept;
    return unacked + kept;
}

/* A live peer left (goodbye) or stayed missing from the registry too long. */
static void went_away(proxy *p, peer *pe, const char *how) {
    if (!p->cfg.enable_rejoin) {
        log_write(CHANGE_LEVEL(p), "peer '%s' %s group '%s'", pe->name, how, p->group);
        forget(p, pe, 0);
        return;
    }
    /* Its connection stays: if it was cut off, not dead, what is queued
     * still goes out when it is back at the same address. */
    pe->state = PEER_DOWN;
    pe->left = clock_now();
    pe->expires = pe->left + p->cfg.peers_catch_lifetime;
    pe->missing_since = 0;
    pe->goodbye_at = 0;
    p->peers.version++;
    log_write(CHANGE_LEVEL(p), "peer '%s' %s group '%s'; it is expected back (enable_rejoin)",
              pe->name, how, p->group);
}

/* A peer came back (it was down) or runs as another process now. */
static void came_back(proxy *p, peer *pe, const registration *r) {
    int down = pe->state == PEER_DOWN;
    double away = clock_now() - pe->left;
    if (strcmp(pe->address, r->address) != 0 || strcmp(pe->incarnation, r->incarnation) != 0) {
        uint64_t oldest, unacked = transport_unacked(p->tr, pe->tp, &oldest);
        char err[300];
        if (transport_reconnect(p->tr, pe->tp, r->address, p->closed ? r->curve : NULL, err,
                                sizeof err) != 0) {
            log_warn("cannot reconnect to '%s' at %s: %s", pe->name, r->address, err);
            return;
        }
        /* Its previous run got what it acknowledged and will not answer it;
         * with the cache, what it did not acknowledge went again. */
        session_peer_gone(p->sessions, pe->key, p->cfg.enable_cache ? oldest - 1 : UINT64_MAX - 1);
        if (!down)
            log_write(CHANGE_LEVEL(p), "peer '%s' moved from %s to %s; reconnected",
                      pe->name, pe->address, r->address);
        if (unacked && !p->cfg.enable_cache)
            log_warn("peer '%s' of group '%s' restarted: %llu message%s sent to its previous "
                     "run %s not acknowledged and %s lost (enable_message_cache_for_rejoin "
                     "sends them again)", pe->name, p->group, (unsigned long long)unacked,
                     proxy_plural(unacked), unacked == 1 ? "was" : "were",
                     unacked == 1 ? "is" : "are");
        else if (unacked)
            log_info("peer '%s' restarted; sending again the %llu message%s it had not "
                     "acknowledged", pe->name, (unsigned long long)unacked, proxy_plural(unacked));
        if (peer_table_update(&p->peers, pe, r) != 0) log_warn("out of memory");
    }
    pe->missing_since = 0;
    pe->goodbye_at = 0;
    if (down) {
        pe->state = PEER_LIVE;
        p->peers.version++;
        log_write(CHANGE_LEVEL(p), "peer '%s' rejoined group '%s' at %s after %.1f s; sending "
                  "the %zu message%s kept for it", pe->name, p->group, pe->address, away,
                  pe->n_kept, proxy_plural(pe->n_kept));
    }
    outbox_drain(p, pe);
}

static int in_view(const discovery_view *v, const char *name) {
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->members[i].name, name) == 0) return 1;
    return 0;
}

/* 1 when a peer that said goodbye may be let go now: it acknowledged
 * everything, or had its grace. */
static int goodbye_settled(proxy *p, peer *pe, double now, double *due) {
    if (!transport_unacked(p->tr, pe->tp, NULL)) return 1;
    if (!pe->goodbye_at) pe->goodbye_at = now;
    double until = pe->goodbye_at + GOODBYE_ACK_GRACE;
    if (now >= until) return 1;
    if (until < *due) *due = until;
    return 0;
}

static void apply_view(proxy *p, const char *type, const discovery_view *v, double now,
                       double *due) {
    for (size_t i = 0; i < v->n; i++) {
        const registration *m = &v->members[i];
        if (strcmp(m->name, p->name) == 0) continue;
        peer *pe = peer_table_find(&p->peers, m->name, strlen(m->name));
        char err[300];
        unsigned long held;
        if (!pe) {
            if (!connect_member(p, m, err, sizeof err) &&
                log_limiter_pass(&p->refresh_lim, 10.0, &held))
                log_warn("cannot connect to '%s' (%lu more warnings held back): %s", m->name,
                         held, err);
        } else if (pe->state == PEER_DOWN || strcmp(pe->address, m->address) != 0 ||
                   strcmp(pe->incarnation, m->incarnation) != 0) {
            came_back(p, pe, m);
        } else {
            pe->missing_since = 0;
            pe->goodbye_at = 0;
        }
    }
    if (!v->ok) return; /* the registry did not answer: nothing is known to be missing */
    double expiry = p->cfg.heartbeat_expiry;
    for (size_t i = p->peers.n; i-- > 0;) {
        peer *pe = p->peers.all[i];
        if (pe->state != PEER_LIVE || strcmp(pe->type, type) != 0 || in_view(v, pe->name))
            continue;
        if (discovery_said_goodbye(p->disc, pe->name)) {
            if (goodbye_settled(p, pe, now, due)) went_away(p, pe, "left");
        } else if (!pe->missing_since) {
            pe->missing_since = v->as_of;
            if (v->as_of + expiry < *due) *due = v->as_of + expiry;
        } else if (v->as_of - pe->missing_since >= expiry) {
            went_away(p, pe, "stopped renewing its registration in");
        } else if (pe->missing_since + expiry < *due) {
            *due = pe->missing_since + expiry;
        }
    }
}

void membership_sync(proxy *p) { membership_sync_at(p, clock_now()); }

void membership_sync_at(proxy *p, double now) {
    uint64_t v = discovery_version(p->disc);
    if (v == p->seen_version && now < p->next_membership) return;
    p->seen_version = v;
    double due = now + p->cfg.peer_refresh_interval;
    for (size_t t = 0; t < p->n_types; t++) {
        discovery_view view;
        if (discovery_view_of(p->disc, p->types[t], &view) != 0) continue;
        if (view.as_of > 0) apply_view(p, p->types[t], &view, now, &due);
        discovery_view_free(&view);
    }
    for (size_t i = p->peers.n; i-- > 0;) {
        peer *pe = p->peers.all[i];
        if (pe->state != PEER_DOWN) continue;
        if (now >= pe->expires) forget(p, pe, 1);
        else if (pe->expires < due) due = pe->expires;
    }
    if (now >= p->next_stats) {
        registration_stats s = {p->sent, p->received, p->buf.count, p->dropped};
        discovery_set_stats(p->disc, &s);
        p->next_stats = now + p->cfg.heartbeat_interval;
    }
    p->next_membership = due;
}

double membership_due(const proxy *p) { return p->next_membership; }

peer *membership_find(proxy *p, wire_slice who, double timeout, char *err, size_t errlen) {
    peer *pe = p->last_found;
    if (pe && p->last_found_version == p->peers.version && strlen(pe->name) == who.len &&
        memcmp(pe->name, who.ptr, who.len) == 0)
        return pe;
    if ((pe = peer_table_find(&p->peers, who.ptr, who.len))) {
        p->last_found = pe;
        p->last_found_version = p->peers.version;
        return pe;
    }
    registration r;
    char why[512], name[WIRE_MAX_NAME + 1];
    snprintf(name, sizeof name, "%.*s", (int)who.len, who.ptr);
    int rc = discovery_resolve(p->disc, name, timeout, &r, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "cannot look up destination '%s' in group '%s': %s", name,
                 p->group, why);
        return NULL;
    }
    if (rc == 0) {
        char known[512] = "";
        size_t k = 0;
        for (size_t i = 0; i < p->peers.n && k + 2 < sizeof known; i++)
            k += snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "",
                          p->peers.all[i]->name);
        if (k >= sizeof known) strcpy(known + sizeof known - 5, "...");
        snprintf(err, errlen, "unknown destination '%s': no live member of group '%s' has that "
                 "name (connected peers: %s)", name, p->group, p->peers.n ? known : "none");
        return NULL;
    }
    pe = connect_member(p, &r, why, sizeof why);
    if (!pe) snprintf(err, errlen, "cannot connect to '%s' in group '%s': %s", name, p->group, why);
    else if (membership_follow(p, r.type) != 0) log_warn("out of memory: type '%s' is not "
                                                         "followed", r.type);
    registration_free(&r);
    return pe;
}

uint64_t membership_undelivered(proxy *p) {
    uint64_t total = 0;
    for (size_t i = 0; i < p->peers.n; i++)
        total += transport_unacked(p->tr, p->peers.all[i]->tp, NULL) + p->peers.all[i]->n_kept;
    return total;
}
