/* proxy.c: joining and leaving a group, and sending with back-pressure.
 * The peer table is in peers.c, receiving in receive.c. */
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "proxy/proxy_impl.h"
#include "proxy/signals.h"

void proxy_config_defaults(proxy_config *c) {
    memset(c, 0, sizeof *c);
    c->redis_host = "127.0.0.1";
    c->redis_port = 6379;
    c->max_redis_connect_retries = 5;
    c->initial_redis_connect_retry_interval = 0.1;
    c->max_peer_discovery_retries = 100;
    c->initial_peer_discovery_retry_interval = 0.05;
    c->max_peer_discovery_retry_interval = 0.5;
    c->heartbeat_interval = 1.0;
    c->heartbeat_expiry = 3.0;
    c->peer_refresh_interval = 1.0;
    c->max_buffered_messages = 1000000;
    c->max_sessions = 100000;
    c->send_timeout = 60.0;
    c->linger = 5.0;
    c->send_hwm = 1000;
    c->recv_hwm = 1000;
    c->max_message_size = 256LL << 20;
    c->peers_catch_lifetime = 10.0;
    c->max_cache = 1024;
    c->minimal_timeout = 10.0;
}

const char *proxy_name(const proxy *p) { return p->name; }
const char *proxy_group(const proxy *p) { return p->group; }
const char *proxy_type(const proxy *p) { return p->type; }
const char *proxy_address(const proxy *p) { return transport_address(p->tr); }
unsigned long proxy_peers_version(const proxy *p) { return p->peers_version; }
unsigned long proxy_dropped(const proxy *p) { return p->dropped; }
size_t proxy_buffered(const proxy *p) { return p->buf.count; }

/* ---- waiting that a signal can cut short --------------------------------- */

/* Sleeps up to seconds, waking early when members join or leave; returns
 * nonzero when a signal asks the process to stop. */
static int wait_or_signal(void *ctx, double seconds) {
    proxy *p = ctx;
    if (signals_pending()) return 1;
    struct pollfd pfd[2] = {{signals_fd(), POLLIN, 0},
                            {p && p->disc ? discovery_notify_fd(p->disc) : -1, POLLIN, 0}};
    if (pfd[0].fd < 0 && pfd[1].fd < 0) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
        nanosleep(&ts, NULL);
    } else if (poll(pfd, 2, (int)(seconds * 1000.0 + 0.5)) > 0) {
        if (pfd[0].revents) signals_drain();
        if (pfd[1].revents) discovery_changes(p->disc);
    }
    return signals_pending() != 0;
}

/* ---- sending ------------------------------------------------------------- */

int proxy_send(proxy *p, proxy_peer *pp, const char *header, size_t header_len, blob *payload,
               char *err, size_t errlen) {
    if (!pp->tp) return proxy_cache_message(p, pp, header, header_len, payload, err, errlen);
    /* What was kept while it was down goes first, so that order holds. */
    while (pp->cache_head) {
        cached_msg *c = pp->cache_head;
        if (proxy_send_live(p, pp, blob_data(c->header), blob_size(c->header), c->payload, err,
                            errlen) != 0)
            return -1;
        proxy_cache_pop(pp);
    }
    return proxy_send_live(p, pp, header, header_len, payload, err, errlen);
}

int proxy_send_live(proxy *p, proxy_peer *pp, const char *header, size_t header_len,
                    blob *payload, char *err, size_t errlen) {
    double start = -1, next_check = 0;
    char why[256];
    for (;;) {
        int rc = transport_try_send(p->tr, pp->tp, header, header_len, payload, why, sizeof why);
        if (rc > 0) return 0;
        if (rc < 0) {
            snprintf(err, errlen, "sending to '%s': %s", pp->name, why);
            return -1;
        }
        if (start < 0) { /* the clock is read only when a queue is full */
            start = clock_now();
            next_check = start + p->cfg.peer_refresh_interval;
        }
        /* The peer's queue is full. Keep reading meanwhile, so that two
         * proxies sending to each other cannot block each other forever. */
        double now = clock_now();
        if (p->cfg.send_timeout >= 0 && now - start >= p->cfg.send_timeout) {
            snprintf(err, errlen, "sending to '%s' in group '%s': its queue has been full for "
                     "%.1f s (send_timeout); is it still receiving?", pp->name, p->group,
                     now - start);
            return -1;
        }
        if (now >= next_check) {
            /* A peer that died with a full queue would make us wait forever. */
            next_check = now + p->cfg.peer_refresh_interval;
            discovery_member m;
            int found = discovery_lookup_name(p->disc, pp->name, &m, why, sizeof why);
            int moved = found == 1 && strcmp(m.address, pp->address) != 0;
            if (found == 1) discovery_free_member(&m);
            if (found == 0 || moved) {
                snprintf(err, errlen, "sending to '%s' in group '%s': it %s while its queue "
                         "was full; what was queued for it is lost", pp->name, p->group,
                         moved ? "restarted at a new address" : "left the group");
                return -1;
            }
        }
        double t = p->cfg.peer_refresh_interval;
        if (p->cfg.send_timeout >= 0 && start + p->cfg.send_timeout - now < t)
            t = start + p->cfg.send_timeout - now;
        int readable = p->buf.count < p->cfg.max_buffered_messages;
        int bits = proxy_wait_events(p, readable, pp->tp, t);
        if (bits & TRANSPORT_READABLE) {
            int full;
            proxy_pump(p, NULL, NULL, &full);
        }
    }
}

void proxy_session_start(proxy *p, wire_slice session_id, int type, int replies) {
    if (type == SESSION_NONE || replies <= 0) return;
    if (session_start(p->sessions, session_id, type, replies) != 0)
        log_warn("out of memory: the stages of session %.*s are not followed",
                 (int)session_id.len, session_id.ptr);
}

int proxy_session_stage(proxy *p, wire_slice session_id) {
    return session_stage(p->sessions, session_id);
}

/* ---- joining and leaving ------------------------------------------------- */

/* An in-process backend saw a member join or leave: refresh at the next call. */
static void members_changed(void *ctx) {
    ((proxy *)ctx)->next_refresh = 0;
}

/* Waits until every expected type has enough live members. */
static int wait_for_expected(proxy *p, int *stopped, char *err, size_t errlen) {
    double start = clock_now(), wait = p->cfg.initial_peer_discovery_retry_interval;
    for (int tries = 1;; tries++) {
        char missing[1024] = "";
        size_t k = 0;
        for (size_t e = 0; e < p->n_expected; e++) {
            discovery_member *m;
            size_t n, have = 0;
            char why[512];
            if (discovery_lookup_type(p->disc, p->expected[e].type, &m, &n, why, sizeof why)) {
                snprintf(err, errlen, "while waiting for peers: %s", why);
                return -1;
            }
            for (size_t i = 0; i < n; i++) have += strcmp(m[i].name, p->name) != 0;
            discovery_free_members(m, n);
            if ((int)have < p->expected[e].count && k < sizeof missing)
                k += snprintf(missing + k, sizeof missing - k, "%s%s: %zu of %d", k ? ", " : "",
                              p->expected[e].type, have, p->expected[e].count);
        }
        if (k == 0) return 0;
        if (p->cfg.hub) { /* nobody else can join while this thread waits */
            snprintf(err, errlen, "expected peers missing in group '%s' (%s registered); the "
                     "proxies of one process join one after the other, so create the expected "
                     "peers first", p->group, missing);
            return -1;
        }
        if (tries > p->cfg.max_peer_discovery_retries) {
            snprintf(err, errlen, "expected peers missing in group '%s' after %d tries over "
                     "%.1f s (%s registered); start them, or change expected_peers or "
                     "max_peer_discovery_retries", p->group, tries, clock_now() - start,
                     missing);
            return -1;
        }
        double nap = wait < p->cfg.max_peer_discovery_retry_interval
                         ? wait : p->cfg.max_peer_discovery_retry_interval;
        if (wait_or_signal(p, nap)) {
            *stopped = 1;
            snprintf(err, errlen, "stopped by a signal while waiting for peers");
            return -1;
        }
        wait *= 2;
    }
}

static int valid_name(const char *what, const char *s, char *err, size_t errlen) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > WIRE_MAX_NAME || strchr(s, '\n')) {
        snprintf(err, errlen, "%s must be a non-empty string of at most %d bytes without "
                 "newlines", what, WIRE_MAX_NAME);
        return 0;
    }
    return 1;
}

/* Large messages are allocated and freed at a high rate (by ZeroMQ's I/O
 * thread and by us). With glibc's defaults each 1 MiB buffer is fresh memory
 * from the kernel, and clearing its pages costs more than the copy over TCP;
 * keeping freed memory for reuse almost doubles the bandwidth. The
 * environment (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) still wins. */
static void tune_allocator(void) {
    static int done;
    if (done) return;
    done = 1;
#ifdef __GLIBC__
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (!getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

proxy *proxy_open(const proxy_config *c, int *stopped, char *err, size_t errlen) {
    *stopped = 0;
    tune_allocator();
    if (!valid_name("group_name", c->group, err, errlen) ||
        !valid_name("component_type", c->type, err, errlen) ||
        !valid_name("component_name", c->name, err, errlen))
        return NULL;
    for (size_t i = 0; i < c->n_expected; i++)
        if (!valid_name("an expected peer type", c->expected[i].type, err, errlen)) return NULL;
    if (!(c->heartbeat_interval > 0) || !(c->heartbeat_expiry > c->heartbeat_interval)) {
        snprintf(err, errlen, "heartbeat_interval (%g s) must be positive and below "
                 "heartbeat_expiry (%g s)", c->heartbeat_interval, c->heartbeat_expiry);
        return NULL;
    }
    if (c->enable_cache && !c->enable_rejoin) {
        snprintf(err, errlen, "enable_message_cache_for_rejoin needs enable_rejoin = true");
        return NULL;
    }
    for (size_t i = 0; i < c->n_minimal; i++)
        if (!valid_name("a minimal_peers type", c->minimal[i].type, err, errlen)) return NULL;
    if (!(c->peer_refresh_interval > 0)) {
        snprintf(err, errlen, "peer_refresh_interval must be positive");
        return NULL;
    }
    proxy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *c;
    p->group = strdup(c->group);
    p->type = strdup(c->type);
    p->name = strdup(c->name);
    p->expected = calloc(c->n_expected + 1, sizeof *p->expected);
    p->minimal = calloc(c->n_minimal + 1, sizeof *p->minimal);
    p->sessions = session_table_new(c->max_sessions);
    if (!p->group || !p->type || !p->name || !p->expected || !p->minimal || !p->sessions) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < c->n_expected; i++) {
        p->expected[i].count = c->expected[i].count;
        if (!(p->expected[i].type = strdup(c->expected[i].type)) ||
            proxy_follow_type(p, c->expected[i].type) != 0) {
            snprintf(err, errlen, "out of memory");
            p->n_expected = i + 1;
            goto fail;
        }
        p->n_expected = i + 1;
    }
    for (size_t i = 0; i < c->n_minimal; i++) {
        p->minimal[i].count = c->minimal[i].count;
        if (!(p->minimal[i].type = strdup(c->minimal[i].type))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        p->n_minimal = i + 1;
    }
    discovery_config dc = {c->redis_host, c->redis_port, p->group,
                           c->max_redis_connect_retries, c->initial_redis_connect_retry_interval,
                           c->heartbeat_interval, c->heartbeat_expiry, c->take_over_name,
                           wait_or_signal, p, members_changed, p};
    char host[256] = "";
    transport_config tc = {c->bind_host, host, (int)(c->linger * 1000.0), c->send_hwm,
                           c->recv_hwm, c->max_message_size};
    if (c->hub) {
        if (!(p->disc = discovery_inproc_open(c->hub, &dc, err, errlen)) ||
            !(p->tr = inproc_transport_open(c->hub, &tc, err, errlen)))
            goto fail;
    } else {
        if (!(p->disc = discovery_redis_open(&dc, stopped, err, errlen))) goto fail;
        if (c->advertised_host && *c->advertised_host)
            snprintf(host, sizeof host, "%s", c->advertised_host);
        else if (discovery_route_address(c->redis_host, c->redis_port, host, sizeof host, err,
                                         errlen) != 0)
            goto fail;
        if (!(p->tr = zmqdrv_open(&tc, err, errlen))) goto fail;
    }

    int rc = discovery_join(p->disc, p->name, p->type, transport_address(p->tr), err, errlen);
    if (rc == DISCOVERY_STOPPED) *stopped = 1;
    if (rc != DISCOVERY_OK) goto fail;
    if (wait_for_expected(p, stopped, err, errlen) != 0) goto fail;
    proxy_refresh_peers(p);
    /* In-process groups come and go by the dozen in specs: not worth a line each. */
    log_write(c->hub ? LOG_DEBUG : LOG_INFO, "'%s' (%s) joined group '%s' at %s with %zu peers",
              p->name, p->type, p->group, transport_address(p->tr), p->n_peers);
    return p;
fail:
    proxy_close(p);
    return NULL;
}

void proxy_close(proxy *p) {
    if (!p) return;
    if (p->tr) proxy_flush_caches(p); /* what their queues take still leaves within the linger */
    proxy_forget_gone(p);
    for (size_t i = 0; i < p->n_peers; i++) proxy_free_peer(p, p->peers[i], 0);
    p->n_peers = 0;
    if (p->disc) discovery_leave(p->disc); /* meanwhile ZeroMQ sends what is queued */
    if (p->tr) transport_close(p->tr);     /* waits at most the linger */
    if (p->disc) discovery_close(p->disc);
    rxbuf_clear(&p->buf);
    blob_unref(p->scratch.payload);
    session_table_free(p->sessions);
    for (size_t i = 0; i < p->n_types; i++) free(p->types[i]);
    free(p->types);
    for (size_t i = 0; i < p->n_expected; i++) free((char *)p->expected[i].type);
    free(p->expected);
    for (size_t i = 0; i < p->n_minimal; i++) free((char *)p->minimal[i].type);
    free(p->minimal);
    free(p->peers);
    free(p->group);
    free(p->type);
    free(p->name);
    free(p);
}
