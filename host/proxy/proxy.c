/* proxy.c: a proxy's configuration, joining and leaving. Sending is in
 * send.c, receiving in receive.c; both wait in loop.c. */
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/ids.h"
#include "base/interrupt.h"
#include "proxy/closed_group.h"
#include "proxy/inbox.h"
#include "proxy/loop.h"
#include "proxy/membership.h"
#include "proxy/traffic.h"

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
    c->max_buffered_bytes = 64u << 20;
    c->max_sessions = 100000;
    c->send_timeout = 60.0;
    c->linger = 5.0;
    c->send_hwm = 1000;
    c->recv_hwm = 16;
    c->sockets_per_context = 1023;
    c->max_message_size = 256LL << 20;
    c->peers_catch_lifetime = 10.0;
    c->max_cache = 1024;
    c->minimal_timeout = 10.0;
}

const char *proxy_name(const proxy *p) { return p->name; }
const char *proxy_group(const proxy *p) { return p->group; }
const char *proxy_type(const proxy *p) { return p->type; }
const char *proxy_address(const proxy *p) { return transport_address(p->tr); }
int proxy_closed(const proxy *p) { return p->closed; }
struct transport *proxy_transport(proxy *p) { return p->tr; }
unsigned long proxy_dropped(const proxy *p) { return p->dropped; }
size_t proxy_buffered(const proxy *p) { return p->buf.count; }
size_t proxy_buffered_bytes(const proxy *p) { return p->buf.bytes; }

unsigned long proxy_peers_version(proxy *p) {
    membership_sync(p);
    return p->peers.version;
}

int proxy_peer_at(proxy *p, size_t i, const char **name, const char **type) {
    if (i == 0) membership_sync(p);
    for (size_t j = 0, live = 0; j < p->peers.n; j++) {
        peer *pe = p->peers.all[j];
        if (pe->state != PEER_LIVE) continue;
        if (live++ == i) {
            *name = pe->name;
            *type = pe->type;
            return 1;
        }
    }
    return 0;
}

int proxy_watch_fd(proxy *p, int fd) {
    if (p->n_watched >= PROXY_MAX_WATCHED_FDS) return -1;
    p->watched[p->n_watched++] = fd;
    return 0;
}

void proxy_unwatch_fd(proxy *p, int fd) {
    for (int i = 0; i < p->n_watched; i++)
        if (p->watched[i] == fd) {
            p->watched[i] = p->watched[--p->n_watched];
            return;
        }
}

/* ---- the proxies open in this process, left at exit -------------------- */

/* A script that calls os.exit without closing its proxies still leaves its
 * group: the process's exit closes what is open. */
static proxy **open_proxies;
static size_t n_open;

static void close_open_proxies(void) {
    while (n_open) proxy_close(open_proxies[n_open - 1]);
    free(open_proxies);
    open_proxies = NULL;
}

static void note_open(proxy *p) {
    static int at_exit;
    if (!at_exit) at_exit = atexit(close_open_proxies) == 0;
    proxy **a = realloc(open_proxies, (n_open + 1) * sizeof *a);
    if (!a) return; /* it still leaves when closed or collected */
    open_proxies = a;
    open_proxies[n_open++] = p;
}

static void note_closed(proxy *p) {
    for (size_t i = 0; i < n_open; i++)
        if (open_proxies[i] == p) {
            open_proxies[i] = open_proxies[--n_open];
            return;
        }
}

/* ---- joining ------------------------------------------------------------- */

/* Sleeps between retries; nonzero when a signal asks the program to stop. */
static int sleep_or_interrupt(void *ctx, double seconds) {
    (void)ctx;
    if (interrupt_pending()) return 1;
    struct pollfd pfd = {interrupt_fd(), POLLIN, 0};
    poll(&pfd, 1, (int)(seconds * 1000.0 + 0.5));
    return interrupt_pending() != 0;
}

typedef struct join_wait {
    proxy *p;
    double start, next_report;
} join_wait;

/* Says how many of each expected type are there: "worker: 1 of 2 (worker.1)". */
static size_t describe_missing(proxy *p, char *out, size_t outlen) {
    size_t k = 0, missing = 0;
    out[0] = '\0';
    for (size_t e = 0; e < p->n_expected; e++) {
        const char *type = p->expected[e].type;
        if (p->expected[e].count == 0) continue;
        size_t have = peer_table_live_of_type(&p->peers, type);
        if (have < (size_t)p->expected[e].count) missing++;
        if (k < outlen)
            k += snprintf(out + k, outlen - k, "%s%s: %zu of %d", k ? ", " : "", type, have,
                          p->expected[e].count);
        for (size_t i = 0, shown = 0; i < p->peers.n && k < outlen && shown < 8; i++) {
            peer *pe = p->peers.all[i];
            if (pe->state != PEER_LIVE || strcmp(pe->type, type) != 0) continue;
            k += snprintf(out + k, outlen - k, "%s%s", shown++ ? ", " : " (", pe->name);
            if (shown == (have < 8 ? have : 8) && k < outlen)
                k += snprintf(out + k, outlen - k, "%s)", have > 8 ? ", ..." : "");
        }
    }
    return missing;
}

/* The types registered in the group that nobody expects: a typo shows here. */
static void describe_others(proxy *p, char *out, size_t outlen) {
    char **types = NULL;
    size_t n = 0, k = 0;
    out[0] = '\0';
    if (discovery_types(p->disc, &types, &n) != 0) return;
    for (size_t i = 0; i < n; i++) {
        int expected = strcmp(types[i], p->type) == 0;
        for (size_t e = 0; e < p->n_expected && !expected; e++)
            expected = strcmp(types[i], p->expected[e].type) == 0;
        if (!expected && k < outlen)
            k += snprintf(out + k, outlen - k, "%s'%s'", k ? ", " : "", types[i]);
        free(types[i]);
    }
    free(types);
}

static int joined(void *ctx) {
    join_wait *j = ctx;
    proxy *p = j->p;
    char have[1024], others[512];
    if (describe_missing(p, have, sizeof have) == 0) return 1;
    double now = clock_now();
    if (now >= j->next_report) {
        j->next_report = now + 5.0;
        describe_others(p, others, sizeof others);
        log_info("'%s' waits for its peers in group '%s' (%.0f s so far): %s%s%s", p->name,
                 p->group, now - j->start, have, *others ? "; also registered: " : "", others);
    }
    return 0;
}

/* The longest joining waits: as long as the retries of the first version
 * took (0.05, 0.1, 0.2, 0.4, 0.5, 0.5, ... s; about 49 s by default). */
static double joining_time(const proxy_config *c) {
    double total = 0, wait = c->initial_peer_discovery_retry_interval;
    for (int i = 0; i <= c->max_peer_discovery_retries; i++) {
        total += wait < c->max_peer_discovery_retry_interval ? wait
                                                            : c->max_peer_discovery_retry_interval;
        wait *= 2;
    }
    return total;
}

static int wait_for_expected(proxy *p, int *interrupted, char *err, size_t errlen) {
    join_wait j = {p, clock_now(), clock_now() + 5.0};
    proxy_wait_spec w = {.deadline = j.start + joining_time(&p->cfg), .done = joined, .ctx = &j};
    if (p->cfg.hub) w.deadline = PROXY_NO_WAIT; /* nobody else can join meanwhile */
    int rc = loop_run(p, &w, NULL);
    if (rc == PROXY_DONE) return 0;
    char have[1024], others[512];
    describe_missing(p, have, sizeof have);
    describe_others(p, others, sizeof others);
    if (rc == PROXY_INTERRUPTED) {
        *interrupted = 1;
        snprintf(err, errlen, "interrupted while waiting for peers (%s)", have);
    } else if (p->cfg.hub) {
        snprintf(err, errlen, "expected peers missing in group '%s' (%s); the proxies of one "
                 "process join one after the other, so create the expected peers first",
                 p->group, have);
    } else {
        snprintf(err, errlen, "expected peers missing in group '%s' after %.1f s (%s)%s%s; "
                 "start them, or check the group and type names, expected_peers or "
                 "max_peer_discovery_retries", p->group, clock_now() - j.start, have,
                 *others ? "; the group also holds types " : "", others);
    }
    return -1;
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

static int check_config(const proxy_config *c, char *err, size_t errlen) {
    if (!valid_name("group_name", c->group, err, errlen) ||
        !valid_name("component_type", c->type, err, errlen) ||
        !valid_name("component_name", c->name, err, errlen))
        return -1;
    for (size_t i = 0; i < c->n_expected; i++)
        if (!valid_name("an expected peer type", c->expected[i].type, err, errlen)) return -1;
    for (size_t i = 0; i < c->n_minimal; i++)
        if (!valid_name("a minimal_peers type", c->minimal[i].type, err, errlen)) return -1;
    if (!(c->heartbeat_interval > 0) || !(c->heartbeat_expiry > c->heartbeat_interval)) {
        snprintf(err, errlen, "heartbeat_interval (%g s) must be positive and below "
                 "heartbeat_expiry (%g s)", c->heartbeat_interval, c->heartbeat_expiry);
        return -1;
    }
    if (c->enable_cache && !c->enable_rejoin) {
        snprintf(err, errlen, "enable_message_cache_for_rejoin needs enable_rejoin = true");
        return -1;
    }
    if (!(c->peer_refresh_interval > 0)) {
        snprintf(err, errlen, "peer_refresh_interval must be positive");
        return -1;
    }
    if (c->incarnation && (strlen(c->incarnation) != REGISTRATION_INCARNATION_HEX ||
                           strspn(c->incarnation, "0123456789abcdef") !=
                               REGISTRATION_INCARNATION_HEX)) {
        snprintf(err, errlen, "MARO_INCARNATION must be 16 lowercase hex digits");
        return -1;
    }
    return 0;
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

static int copy_types(const proxy_expected *from, size_t n, proxy_expected **to, size_t *nto) {
    *to = calloc(n + 1, sizeof **to);
    if (!*to) return -1;
    for (size_t i = 0; i < n; i++) {
        (*to)[i].count = from[i].count;
        if (!((*to)[i].type = strdup(from[i].type))) return -1;
        *nto = i + 1;
    }
    return 0;
}

static void set_incarnation(proxy *p, const char *hex) {
    if (hex) {
        for (int i = 0; i < WIRE_INCARNATION_LEN; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            p->incarnation[i] = (uint8_t)v;
        }
    } else {
        uint64_t r = ids_random64();
        memcpy(p->incarnation, &r, sizeof r);
    }
    for (int i = 0; i < WIRE_INCARNATION_LEN; i++)
        snprintf(p->incarnation_hex + 2 * i, 3, "%02x", p->incarnation[i]);
}

static int open_backends(proxy *p, const proxy_config *c, int *interrupted, char *err,
                         size_t errlen) {
    char host[256] = "";
    if (closed_group_load(p, c, err, errlen) != 0) return -1;
    registration me = {p->name, p->type, NULL, "", "", clock_wall_ms(), {0, 0, 0, 0}};
    memcpy(me.incarnation, p->incarnation_hex, sizeof me.incarnation);
    discovery_config dc = {p->group, c->redis_host, c->redis_port, c->redis_user,
                           c->redis_password, c->redis_db, c->max_redis_connect_retries,
                           c->initial_redis_connect_retry_interval, c->heartbeat_interval,
                           c->heartbeat_expiry, c->peer_refresh_interval, me,
                           p->closed ? &p->secrets : NULL, c->take_over_from,
                           sleep_or_interrupt, p};
    transport_config tc = {NULL, host, c->send_hwm, c->recv_hwm, c->sockets_per_context,
                           c->max_message_size, c->enable_cache, {p->group, strlen(p->group)},
                           {p->name, strlen(p->name)}, {0}, NULL, NULL};
    memcpy(tc.incarnation, p->incarnation, sizeof tc.incarnation);
    closed_group_secure(p, &tc);
    if (c->hub) {
        if (!(p->tr = inproc_transport_open(c->hub, &tc, err, errlen))) return -1;
    } else {
        if (c->advertised_host && *c->advertised_host)
            snprintf(host, sizeof host, "%s", c->advertised_host);
        else if (discovery_route_address(c->redis_host, c->redis_port, host, sizeof host, err,
                                         errlen) != 0)
            return -1;
        /* Bound where it is advertised: a group on loopback is not reachable
         * from the network, and one on a private address not from others. */
        tc.bind_host = c->bind_host && *c->bind_host ? c->bind_host : host;
        if (!(p->tr = zmqdrv_open(&tc, err, errlen))) return -1;
        closed_group_warn_if_open(p, tc.bind_host);
    }
    dc.me.address = (char *)transport_address(p->tr);
    if (transport_public_key(p->tr))
        snprintf(dc.me.curve, sizeof dc.me.curve, "%s", transport_public_key(p->tr));
    if (c->hub) p->disc = discovery_inproc_open(c->hub, &dc, err, errlen);
    else p->disc = discovery_redis_open(&dc, interrupted, err, errlen);
    atomic_store(&p->authorizer, p->disc);
    return p->disc ? 0 : -1;
}

proxy *proxy_open(const proxy_config *c, int *interrupted, char *err, size_t errlen) {
    *interrupted = 0;
    tune_allocator();
    if (check_config(c, err, errlen) != 0) return NULL;
    proxy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *c;
    p->started = clock_now();
    peer_table_init(&p->peers);
    senders_init(&p->senders);
    set_incarnation(p, c->incarnation);
    p->group = strdup(c->group);
    p->type = strdup(c->type);
    p->name = strdup(c->name);
    p->sessions = session_table_new(c->max_sessions);
    if (!p->group || !p->type || !p->name || !p->sessions ||
        copy_types(c->expected, c->n_expected, &p->expected, &p->n_expected) != 0 ||
        copy_types(c->minimal, c->n_minimal, &p->minimal, &p->n_minimal) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (open_backends(p, c, interrupted, err, errlen) != 0) goto fail;
    /* Followed before joining: discovery looks the types up as soon as it
     * has joined. */
    for (size_t i = 0; i < p->n_expected; i++)
        if (membership_follow(p, p->expected[i].type) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    int rc = discovery_join(p->disc, err, errlen);
    if (rc == DISCOVERY_STOPPED) *interrupted = 1;
    if (rc != DISCOVERY_OK) goto fail;
    if (wait_for_expected(p, interrupted, err, errlen) != 0) goto fail;
    size_t n = 0;
    for (size_t i = 0; i < p->peers.n; i++) n += p->peers.all[i]->state == PEER_LIVE;
    log_write(c->hub ? LOG_DEBUG : LOG_INFO, "'%s' (%s) joined group '%s' at %s with %zu peer%s",
              p->name, p->type, p->group, transport_address(p->tr), n, proxy_plural(n));
    note_open(p);
    return p;
fail:
    proxy_close(p);
    return NULL;
}

/* ---- leaving ------------------------------------------------------------- */

static int all_acknowledged(void *ctx) {
    proxy *p = ctx;
    for (size_t i = 0; i < p->peers.n; i++) {
        peer *pe = p->peers.all[i];
        if (pe->state == PEER_LIVE && (pe->n_kept || transport_unacked(p->tr, pe->tp, NULL)))
            return 0;
    }
    return 1;
}

uint64_t proxy_close(proxy *p) {
    if (!p) return 0;
    note_closed(p);
    p->closing = 1;
    uint64_t undelivered = 0;
    if (p->tr && p->disc) {
        proxy_wait_spec w = {.deadline = clock_now() + p->cfg.linger, .done = all_acknowledged,
                             .ctx = p, .uninterruptible = 1};
        loop_run(p, &w, NULL);
        /* What peers sent us is acknowledged before the goodbye, so that
         * they need not count it as lost. */
        inbox_acknowledge(p, clock_now(), 1);
        for (size_t i = 0; i < p->peers.n; i++)
            if (p->peers.all[i]->state == PEER_LIVE) transport_flush(p->tr, p->peers.all[i]->tp);
        undelivered = membership_undelivered(p) + p->lost_while_closing;
        if (undelivered)
            log_warn("'%s' leaves group '%s' with %llu message%s that %s not known to have "
                     "arrived (not acknowledged within the linger, %g s, or kept for peers "
                     "that are down)", p->name, p->group, (unsigned long long)undelivered,
                     proxy_plural(undelivered), undelivered == 1 ? "is" : "are", p->cfg.linger);
    }
    traffic_close(p);
    if (p->disc) discovery_leave(p->disc);
    if (p->rx_open) transport_rx_free(&p->rx);
    /* The transport first: its handler thread may be asking discovery. */
    atomic_store(&p->authorizer_stop, 1);
    if (p->tr) transport_close(p->tr); /* with every peer's connection */
    if (p->disc) discovery_close(p->disc);
    group_key_wipe(&p->secrets, sizeof p->secrets);
    peer_table_free(&p->peers);
    senders_free(&p->senders);
    rxbuf_clear(&p->buf);
    session_table_free(p->sessions);
    for (size_t i = 0; i < p->n_types; i++) free(p->types[i]);
    free(p->types);
    for (size_t i = 0; i < p->n_expected; i++) free((char *)p->expected[i].type);
    free(p->expected);
    for (size_t i = 0; i < p->n_minimal; i++) free((char *)p->minimal[i].type);
    free(p->minimal);
    free(p->group);
    free(p->type);
    free(p->name);
    free(p);
    return undelivered;
}
