/* redis.c: discovery through Redis (the keys are in registry.h).
 *
 * After joining, a thread of the backend (the worker) owns every Redis
 * connection: it refreshes the registration every heartbeat_interval,
 * listens on the group's change channel, looks up the followed types when
 * a change is announced and every refresh_interval, and answers lookups
 * by name. The script's thread only reads the views it keeps, under a
 * lock: a slow, hung or dead Redis delays what the worker learns, never a
 * send or a receive. A crashed process takes its worker along, and its
 * registration expires. */
#include "discovery/discovery.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "discovery/registry.h"

#define MAX_GOODBYES 1024  /* names remembered as having left on purpose */
#define RECONNECT_DELAY 0.25 /* seconds between attempts while Redis is away */

typedef struct followed {
    char *type;
    discovery_view view;
} followed;

typedef struct request {
    struct request *next;
    char *name;
    int done, abandoned, found;
    registration answer;
    char err[300];
} request;

typedef struct rdisc {
    discovery base;
    discovery_config cfg;
    char *host, *user, *password, *group, *name, *type, *address, *take_over_from;
    redis_target target;
    registry_keys keys;
    double io_timeout;
    redisContext *c; /* the main thread's until joined, then the worker's */
    buf value;       /* the registration's text */
    size_t identity_len;
    int joined;
    /* the worker */
    pthread_t thread;
    int running;
    int wake[2], notify[2];
    _Atomic uint64_t version;
    uint64_t reported; /* the version the main thread last saw */
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t answered;
    int stop, refresh_now;
    followed *types;
    size_t n_types;
    char *goodbyes[MAX_GOODBYES];
    size_t n_goodbyes;
    request *requests;
    registration_stats stats;
    char **group_types;
    size_t n_group_types;
} rdisc;

/* ---- small things -------------------------------------------------------- */

static void poke(int fd) {
    ssize_t n = write(fd, "x", 1);
    (void)n; /* a full pipe is readable already */
}

static void drain(int fd) {
    char junk[64];
    while (read(fd, junk, sizeof junk) > 0) {
    }
}

static int nonblocking_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

/* Called by the worker with the lock held when a view changed. The byte
 * goes first, so that a reader that sees the new version finds it to drain. */
static void changed(rdisc *d) {
    poke(d->notify[1]);
    atomic_fetch_add(&d->version, 1);
}

static int same_members(const discovery_view *a, const registration *m, size_t n) {
    if (a->n != n) return 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n && strcmp(a->members[j].name, m[i].name) != 0) j++;
        if (j == n || strcmp(a->members[j].address, m[i].address) != 0 ||
            strcmp(a->members[j].incarnation, m[i].incarnation) != 0)
            return 0;
    }
    return 1;
}

static void forget_goodbye(rdisc *d, const char *name) {
    for (size_t i = 0; i < d->n_goodbyes; i++)
        if (strcmp(d->goodbyes[i], name) == 0) {
            free(d->goodbyes[i]);
            d->goodbyes[i] = d->goodbyes[--d->n_goodbyes];
            return;
        }
}

static void note_goodbye(rdisc *d, const char *name) {
    forget_goodbye(d, name);
    if (d->n_goodbyes == MAX_GOODBYES) {
        free(d->goodbyes[0]);
        d->goodbyes[0] = d->goodbyes[--d->n_goodbyes];
    }
    char *s = strdup(name);
    if (s) d->goodbyes[d->n_goodbyes++] = s;
}

/* ---- the worker ---------------------------------------------------------- */

static int heartbeat(rdisc *d, char *err, size_t errlen) {
    pthread_mutex_lock(&d->lock);
    registration_stats s = d->stats;
    pthread_mutex_unlock(&d->lock);
    registration me = d->cfg.me;
    me.stats = s;
    d->value.len = 0;
    if (registration_format(&me, &d->value, &d->identity_len) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return registry_register(&d->c, &d->target, &d->keys, d->value.data, d->value.len,
                             d->identity_len, d->cfg.heartbeat_expiry, d->name, d->type, NULL,
                             NULL, err, errlen);
}

/* Looks up every followed type; the views change under the lock. */
static int refresh(rdisc *d, char *err, size_t errlen) {
    pthread_mutex_lock(&d->lock);
    size_t n = d->n_types;
    char **names = calloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; names && i < n; i++) names[i] = strdup(d->types[i].type);
    pthread_mutex_unlock(&d->lock);
    if (!names) return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        registration *m = NULL;
        size_t count = 0;
        double as_of = clock_now();
        int ok = names[i] && registry_lookup_type(&d->c, &d->target, &d->keys, names[i], &m,
                                                  &count, err, errlen) == 0;
        pthread_mutex_lock(&d->lock);
        followed *f = &d->types[i]; /* types are only ever added */
        if (ok) {
            int differ = !f->view.ok || !same_members(&f->view, m, count);
            registrations_free(f->view.members, f->view.n);
            f->view = (discovery_view){m, count, 1, as_of};
            if (differ) changed(d);
        } else if (f->view.ok) {
            f->view.ok = 0;
            changed(d);
        }
        pthread_mutex_unlock(&d->lock);
        if (!ok) {
            registrations_free(m, count);
            rc = -1;
            break;
        }
        free(names[i]);
        names[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == 0) {
        char **types;
        size_t nt;
        if (registry_types(&d->c, &d->target, &d->keys, &types, &nt, err, errlen) == 0) {
            pthread_mutex_lock(&d->lock);
            for (size_t i = 0; i < d->n_group_types; i++) free(d->group_types[i]);
            free(d->group_types);
            d->group_types = types;
            d->n_group_types = nt;
            pthread_mutex_unlock(&d->lock);
        }
    }
    return rc;
}

static void free_request(request *q) {
    if (q->done && q->found == 1) registration_free(&q->answer);
    free(q->name);
    free(q);
}

/* Answers lookups by name. A request whose asker stopped waiting is the
 * worker's to free; every other the asker's. */
static void answer_requests(rdisc *d) {
    for (;;) {
        pthread_mutex_lock(&d->lock);
        request *q = d->requests;
        while (q && q->done) q = q->next;
        char *name = q ? strdup(q->name) : NULL;
        pthread_mutex_unlock(&d->lock);
        if (!q) return;
        registration r;
        char err[300] = "";
        int found = -1;
        if (!name) snprintf(err, sizeof err, "out of memory");
        else if (!d->c) snprintf(err, sizeof err, "Redis at %s:%d is unreachable", d->host,
                                 d->cfg.port);
        else found = registry_lookup_name(&d->c, &d->target, &d->keys, name, &r, err, sizeof err);
        free(name);
        pthread_mutex_lock(&d->lock);
        q->done = 1;
        q->found = found;
        if (found == 1) q->answer = r;
        snprintf(q->err, sizeof q->err, "%s", err);
        if (q->abandoned) {
            for (request **pp = &d->requests; *pp; pp = &(*pp)->next)
                if (*pp == q) {
                    *pp = q->next;
                    break;
                }
            free_request(q);
        }
        pthread_cond_broadcast(&d->answered);
        pthread_mutex_unlock(&d->lock);
    }
}

/* Reads what arrived on the change channel; -1 when the connection broke. */
static int read_changes(rdisc *d, redisContext *sub) {
    if (redisBufferRead(sub) != REDIS_OK) return -1;
    void *reply;
    while (redisGetReplyFromReader(sub, &reply) == REDIS_OK && reply) {
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len > 1) {
            const char *msg = r->element[2]->str;
            pthread_mutex_lock(&d->lock);
            if (msg[0] == '-') note_goodbye(d, msg + 1);
            else forget_goodbye(d, msg + 1);
            d->refresh_now = 1;
            pthread_mutex_unlock(&d->lock);
        }
        freeReplyObject(r);
    }
    return 0;
}

static redisContext *subscribe(rdisc *d) {
    char err[300];
    redisContext *s = redis_conn_open(&d->target, d->io_timeout, err, sizeof err);
    redisReply *r = s ? redisCommand(s, "SUBSCRIBE %s", d->keys.channel) : NULL;
    if (!r) {
        log_debug("no change notifications from Redis: %s", s ? s->errstr : err);
        if (s) redisFree(s);
        return NULL;
    }
    freeReplyObject(r);
    return s;
}

static void *worker_main(void *arg) {
    rdisc *d = arg;
    redisContext *sub = NULL;
    double now = clock_now(), beat_at = now + d->cfg.heartbeat_interval, refresh_at = now;
    double reconnect_at = now, resubscribe_at = now;
    int was_down = 0;
    log_limiter lim = {0, 0};
    char err[512] = "";
    for (;;) {
        pthread_mutex_lock(&d->lock);
        int stop = d->stop, now_please = d->refresh_now;
        d->refresh_now = 0;
        pthread_mutex_unlock(&d->lock);
        if (stop) break;
        now = clock_now();
        if (!d->c && now >= reconnect_at) {
            d->c = redis_conn_open(&d->target, d->io_timeout, err, sizeof err);
            reconnect_at = now + RECONNECT_DELAY;
            if (d->c) beat_at = refresh_at = now; /* an empty Redis learns of us at once */
        }
        if (d->c && !sub && now >= resubscribe_at) {
            resubscribe_at = now + 1.0;
            if ((sub = subscribe(d))) now_please = 1; /* changes may have been missed */
        }
        int failed = !d->c;
        if (d->c && now >= beat_at) {
            beat_at = now + d->cfg.heartbeat_interval;
            int rc = heartbeat(d, err, sizeof err);
            failed |= rc < 0;
            if (rc == 1)
                log_error("component name '%s' in group '%s' is now held by another member "
                          "(%s); peers reach that member under this name", d->name, d->group,
                          err);
        }
        if (d->c && (now_please || now >= refresh_at)) {
            refresh_at = now + d->cfg.refresh_interval;
            failed |= refresh(d, err, sizeof err) != 0;
        }
        answer_requests(d);
        unsigned long held;
        if (failed && log_limiter_pass(&lim, 10.0, &held))
            log_warn("Redis for group '%s' (%lu more warnings held back): %s; members keep "
                     "talking, new members are not seen until it is back", d->group, held, err);
        if (failed) was_down = 1;
        else if (was_down && d->c) {
            was_down = 0;
            log_info("Redis for group '%s' answers again; '%s' is registered", d->group,
                     d->name);
        }
        now = clock_now();
        /* Without a connection only reconnecting is due: beats and lookups
         * wait for it. */
        double next = !d->c ? reconnect_at : beat_at < refresh_at ? beat_at : refresh_at;
        struct pollfd pfd[2] = {{d->wake[0], POLLIN, 0}, {sub ? sub->fd : -1, POLLIN, 0}};
        int ms = next > now ? (int)((next - now) * 1000.0) + 1 : 0;
        if (poll(pfd, 2, ms) > 0) {
            if (pfd[0].revents) drain(d->wake[0]);
            if (pfd[1].revents && read_changes(d, sub) != 0) {
                redisFree(sub);
                sub = NULL;
                resubscribe_at = clock_now() + RECONNECT_DELAY;
            }
        }
    }
    if (sub) redisFree(sub);
    return NULL;
}

static int start_worker(rdisc *d) {
    sigset_t all, old; /* signals belong to the main thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d->running = pthread_create(&d->thread, NULL, worker_main, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d->running ? 0 : -1;
}

static void stop_worker(rdisc *d) {
    if (!d->running) return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_mutex_unlock(&d->lock);
    poke(d->wake[1]);
    pthread_join(d->thread, NULL);
    d->running = 0;
}

/* ---- the operations -------------------------------------------------------- */

static int rdisc_join(discovery *base, char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    registration me = d->cfg.me;
    d->value.len = 0;
    if (registration_format(&me, &d->value, &d->identity_len) != 0) {
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    /* A member that crashed keeps its name until its registration expires:
     * a restart under the same name waits that long before calling the name
     * taken, unless it may take over its predecessor's registration. */
    double give_up = clock_now() + d->cfg.heartbeat_expiry + d->cfg.heartbeat_interval;
    for (;;) {
        char owner[512];
        if (!d->c) d->c = redis_conn_open(&d->target, d->io_timeout, owner, sizeof owner);
        int rc = d->c ? registry_register(&d->c, &d->target, &d->keys, d->value.data,
                                          d->value.len, d->identity_len,
                                          d->cfg.heartbeat_expiry, d->name, d->type,
                                          d->take_over_from, NULL, owner, sizeof owner)
                      : -1;
        if (rc < 0) {
            snprintf(err, errlen, "cannot register: %s", owner);
            return DISCOVERY_ERROR;
        }
        if (rc == 0) break;
        if (clock_now() >= give_up) {
            snprintf(err, errlen, "component name '%s' is already used by a live member of "
                     "group '%s' (at %s); give each component a unique component_name",
                     d->name, d->group, owner);
            return DISCOVERY_TAKEN;
        }
        if (d->cfg.sleep(d->cfg.sleep_ctx, 0.1)) return DISCOVERY_STOPPED;
    }
    d->joined = 1;
    if (start_worker(d) != 0)
        log_warn("cannot start the discovery thread; '%s' will drop out of discovery after "
                 "%.1f s", d->name, d->cfg.heartbeat_expiry);
    return DISCOVERY_OK;
}

static int rdisc_follow(discovery *base, const char *type) {
    rdisc *d = (rdisc *)base;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_types; i++)
        if (strcmp(d->types[i].type, type) == 0) {
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
    followed *t = realloc(d->types, (d->n_types + 1) * sizeof *t);
    char *name = strdup(type);
    if (!t || !name) {
        if (t) d->types = t;
        free(name);
        pthread_mutex_unlock(&d->lock);
        return -1;
    }
    d->types = t;
    t[d->n_types++] = (followed){name, {NULL, 0, 0, 0}};
    d->refresh_now = 1;
    pthread_mutex_unlock(&d->lock);
    poke(d->wake[1]);
    return 0;
}

static uint64_t rdisc_version(discovery *base) {
    rdisc *d = (rdisc *)base;
    uint64_t v = atomic_load(&d->version);
    if (v != d->reported) {
        d->reported = v;
        drain(d->notify[0]);
    }
    return v;
}

static int rdisc_view(discovery *base, const char *type, discovery_view *out) {
    rdisc *d = (rdisc *)base;
    int rc = -1;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_types; i++) {
        if (strcmp(d->types[i].type, type) != 0) continue;
        const discovery_view *v = &d->types[i].view;
        out->members = calloc(v->n ? v->n : 1, sizeof *out->members);
        if (!out->members) break;
        out->ok = v->ok;
        out->as_of = v->as_of;
        rc = 0;
        for (size_t j = 0; j < v->n && rc == 0; j++) {
            if (registration_copy(&out->members[j], &v->members[j]) != 0) rc = -1;
            else out->n++;
        }
        break;
    }
    pthread_mutex_unlock(&d->lock);
    if (rc != 0) discovery_view_free(out);
    return rc;
}

static int rdisc_said_goodbye(discovery *base, const char *name) {
    rdisc *d = (rdisc *)base;
    int said = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_goodbyes && !said; i++) said = strcmp(d->goodbyes[i], name) == 0;
    pthread_mutex_unlock(&d->lock);
    return said;
}

static int rdisc_resolve(discovery *base, const char *name, double timeout, registration *out,
                         char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    if (!d->running) {
        snprintf(err, errlen, "not joined");
        return -1;
    }
    request *q = calloc(1, sizeof *q);
    if (!q || !(q->name = strdup(name))) {
        free(q);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&d->lock);
    q->next = d->requests;
    d->requests = q;
    pthread_mutex_unlock(&d->lock);
    poke(d->wake[1]);
    struct timespec until = clock_timespec(clock_now() + timeout);
    pthread_mutex_lock(&d->lock);
    while (!q->done && pthread_cond_timedwait(&d->answered, &d->lock, &until) != ETIMEDOUT) {
    }
    int found = -1;
    if (!q->done) {
        q->abandoned = 1; /* the worker frees it when it is done */
        pthread_mutex_unlock(&d->lock);
        snprintf(err, errlen, "Redis at %s:%d did not answer within %.1f s", d->host,
                 d->cfg.port, timeout);
        return -1;
    }
    for (request **pp = &d->requests; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    pthread_mutex_unlock(&d->lock);
    found = q->found;
    if (found == 1) {
        *out = q->answer;
        q->found = 0; /* handed over */
    } else if (found < 0) {
        snprintf(err, errlen, "%s", q->err);
    }
    free_request(q);
    return found;
}

static int rdisc_types(discovery *base, char ***out, size_t *n) {
    rdisc *d = (rdisc *)base;
    pthread_mutex_lock(&d->lock);
    char **a = calloc(d->n_group_types + 1, sizeof *a);
    size_t k = 0;
    for (size_t i = 0; a && i < d->n_group_types; i++)
        if ((a[k] = strdup(d->group_types[i]))) k++;
    pthread_mutex_unlock(&d->lock);
    *out = a;
    *n = k;
    return a ? 0 : -1;
}

static int rdisc_notify_fd(discovery *base) { return ((rdisc *)base)->notify[0]; }

static void rdisc_set_stats(discovery *base, const registration_stats *s) {
    rdisc *d = (rdisc *)base;
    pthread_mutex_lock(&d->lock);
    d->stats = *s;
    pthread_mutex_unlock(&d->lock);
}

static void rdisc_leave(discovery *base) {
    rdisc *d = (rdisc *)base;
    stop_worker(d);
    if (!d->joined) return;
    d->joined = 0;
    char err[512];
    if (!d->c) d->c = redis_conn_open(&d->target, d->io_timeout, err, sizeof err);
    if (!d->c || registry_leave(&d->c, &d->target, &d->keys, d->value.data, d->identity_len,
                                d->name, err, sizeof err) != 0)
        log_warn("leaving group '%s': cannot remove '%s' (%s); it drops out when its "
                 "registration expires", d->group, d->name, err);
}

static void rdisc_close(discovery *base) {
    rdisc *d = (rdisc *)base;
    rdisc_leave(base);
    if (d->c) redisFree(d->c);
    for (size_t i = 0; i < d->n_types; i++) {
        free(d->types[i].type);
        discovery_view_free(&d->types[i].view);
    }
    free(d->types);
    for (size_t i = 0; i < d->n_goodbyes; i++) free(d->goodbyes[i]);
    for (size_t i = 0; i < d->n_group_types; i++) free(d->group_types[i]);
    free(d->group_types);
    while (d->requests) { /* abandoned ones the stopped worker did not answer */
        request *q = d->requests;
        d->requests = q->next;
        free_request(q);
    }
    for (int i = 0; i < 2; i++) {
        if (d->wake[i] >= 0) close(d->wake[i]);
        if (d->notify[i] >= 0) close(d->notify[i]);
    }
    registry_keys_free(&d->keys);
    buf_free(&d->value);
    free(d->host);
    free(d->user);
    if (d->password) {
        memset(d->password, 0, strlen(d->password));
        free(d->password);
    }
    free(d->group);
    free(d->name);
    free(d->type);
    free(d->address);
    free(d->take_over_from);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->answered);
    free(d);
}

static const struct discovery_ops rdisc_ops = {
    rdisc_join,    rdisc_follow,    rdisc_version,   rdisc_view,
    rdisc_said_goodbye, rdisc_resolve, rdisc_types, rdisc_notify_fd,
    rdisc_set_stats, rdisc_leave,   rdisc_close};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

discovery *discovery_redis_open(const discovery_config *cfg, int *stopped, char *err,
                                size_t errlen) {
    *stopped = 0;
    rdisc *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base.ops = &rdisc_ops;
    d->cfg = *cfg;
    d->wake[0] = d->wake[1] = d->notify[0] = d->notify[1] = -1;
    pthread_mutex_init(&d->lock, NULL);
    clock_cond_init(&d->answered);
    buf_init(&d->value);
    d->host = strdup(cfg->host);
    d->user = dup_or_null(cfg->user);
    d->password = dup_or_null(cfg->password);
    d->group = strdup(cfg->group);
    d->name = strdup(cfg->me.name);
    d->type = strdup(cfg->me.type);
    d->address = strdup(cfg->me.address);
    d->take_over_from = dup_or_null(cfg->take_over_from);
    d->cfg.me.name = d->name;
    d->cfg.me.type = d->type;
    d->cfg.me.address = d->address;
    d->target = (redis_target){d->host, cfg->port, d->user, d->password, cfg->db};
    /* Replies are awaited at most this long: a hung Redis costs the worker
     * a beat, never more. */
    d->io_timeout = cfg->heartbeat_interval < 1.0 ? cfg->heartbeat_interval : 1.0;
    if (d->io_timeout < 0.2) d->io_timeout = 0.2;
    if (!d->host || !d->group || !d->name || !d->type || !d->address ||
        (cfg->user && !d->user) || (cfg->password && !d->password) ||
        (cfg->take_over_from && !d->take_over_from) ||
        registry_keys_init(&d->keys, cfg->group, cfg->me.name, cfg->me.type) != 0 ||
        nonblocking_pipe(d->wake) != 0 || nonblocking_pipe(d->notify) != 0) {
        snprintf(err, errlen, "out of memory");
        rdisc_close(&d->base);
        return NULL;
    }
    double start = clock_now(), wait = cfg->initial_retry_interval;
    int tries = 0;
    char why[300] = "";
    for (;;) {
        tries++;
        /* The first connection waits up to a second: a server that starts
         * slowly is not an unreachable one. */
        d->c = redis_conn_open(&d->target, 1.0, why, sizeof why);
        if (d->c) {
            redisSetTimeout(d->c, (struct timeval){(time_t)d->io_timeout,
                                                   (suseconds_t)((d->io_timeout -
                                                                  (time_t)d->io_timeout) * 1e6)});
            return &d->base;
        }
        /* A refused password or database will not change: no retries. */
        if (strstr(why, "refused the password") || strstr(why, "cannot select")) break;
        if (tries > cfg->max_connect_retries) break;
        if (cfg->sleep(cfg->sleep_ctx, wait)) {
            *stopped = 1;
            snprintf(err, errlen, "interrupted while connecting to Redis");
            rdisc_close(&d->base);
            return NULL;
        }
        wait *= 2;
    }
    if (strstr(why, "refused the password") || strstr(why, "cannot select"))
        snprintf(err, errlen, "%s", why);
    else
        snprintf(err, errlen, "cannot reach Redis at %s:%d after %d tries over %.1f s (last "
                 "error: %s); start Redis there, or set redis_address / MARO_REDIS", d->host,
                 cfg->port, tries, clock_now() - start, why);
    rdisc_close(&d->base);
    return NULL;
}

void discovery_view_free(discovery_view *v) {
    registrations_free(v->members, v->n);
    v->members = NULL;
    v->n = 0;
}
