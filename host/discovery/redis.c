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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "discovery/redis_impl.h"

static int nonblocking_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

/* ---- the operations -------------------------------------------------------- */

static int rdisc_join(discovery *base, char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    registration me = d->cfg.me;
    d->value.len = 0;
    if (registration_format(&me, d->cfg.secrets, &d->value, &d->identity_len) != 0) {
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
                                          d->take_over_from, 1, NULL, owner, sizeof owner)
                      : -1;
        if (rc < 0) {
            snprintf(err, errlen, "cannot register: %s", owner);
            return DISCOVERY_ERROR;
        }
        if (rc == REGISTRY_CLOSED) {
            snprintf(err, errlen, "cannot join group '%s': %s", d->group, owner);
            return DISCOVERY_REFUSED;
        }
        if (rc == REGISTRY_OK) break;
        if (clock_now() >= give_up) {
            snprintf(err, errlen, "component name '%s' is already used by a live member of "
                     "group '%s' (at %s); give each component a unique component_name",
                     d->name, d->group, owner);
            return DISCOVERY_TAKEN;
        }
        if (d->cfg.sleep(d->cfg.sleep_ctx, 0.1)) return DISCOVERY_STOPPED;
    }
    d->joined = 1;
    /* The followed (expected) types are looked up here rather than by the
     * discovery thread: the script waits for them anyway, and handing the
     * lookup to a thread and back cost two wake-ups, which a busy host
     * makes slow (33 members starting together on two cores took twice as
     * long to join). If it fails, the thread tries again. */
    char why[300];
    if (rdisc_refresh(d, 0, why, sizeof why) == 0) {
        pthread_mutex_lock(&d->lock);
        d->refresh_now = 0;
        d->looked_up = 1;
        pthread_mutex_unlock(&d->lock);
    }
    if (rdisc_start_worker(d) != 0)
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
    rdisc_poke(d->wake[1]);
    return 0;
}

static uint64_t rdisc_version(discovery *base) {
    rdisc *d = (rdisc *)base;
    uint64_t v = atomic_load(&d->version);
    if (v != d->reported) {
        d->reported = v;
        rdisc_drain(d->notify[0]);
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

/* Asks the worker to look a member up, by name or by CURVE key, and waits
 * up to timeout for the answer. */
static int ask(rdisc *d, const char *what, int by_key, double timeout, registration *out,
               char *err, size_t errlen) {
    if (!d->running) {
        snprintf(err, errlen, "not joined");
        return -1;
    }
    request *q = calloc(1, sizeof *q);
    if (!q || !(q->name = strdup(what))) {
        free(q);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    q->by_key = by_key;
    pthread_mutex_lock(&d->lock);
    q->next = d->requests;
    d->requests = q;
    pthread_mutex_unlock(&d->lock);
    rdisc_poke(d->wake[1]);
    struct timespec until = clock_timespec(clock_now() + timeout);
    pthread_mutex_lock(&d->lock);
    while (!q->done && pthread_cond_timedwait(&d->answered, &d->lock, &until) != ETIMEDOUT) {
    }
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
    int found = q->found;
    if (found == 1) {
        *out = q->answer;
        q->found = 0; /* handed over */
    } else if (found < 0) {
        snprintf(err, errlen, "%s", q->err);
    }
    rdisc_free_request(q);
    return found;
}

static int rdisc_resolve(discovery *base, const char *name, double timeout, registration *out,
                         char *err, size_t errlen) {
    return ask((rdisc *)base, name, 0, timeout, out, err, errlen);
}

/* A key seen in a view needs no trip to Redis: a peer that reconnects
 * while Redis is away is still let in. */
static int rdisc_authorize(discovery *base, const char *curve, double timeout, registration *out,
                           char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    if (!d->cfg.secrets) return 0;
    int found = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_types && !found; i++) {
        const discovery_view *v = &d->types[i].view;
        for (size_t j = 0; j < v->n && !found; j++)
            if (strcmp(v->members[j].curve, curve) == 0)
                found = registration_copy(out, &v->members[j]) == 0 ? 1 : -1;
    }
    pthread_mutex_unlock(&d->lock);
    if (found < 0) snprintf(err, errlen, "out of memory");
    if (found) return found;
    return ask(d, curve, 1, timeout, out, err, errlen);
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
    rdisc_stop_worker(d);
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
        rdisc_free_request(q);
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
    rdisc_said_goodbye, rdisc_resolve, rdisc_authorize, rdisc_types, rdisc_notify_fd,
    rdisc_set_stats, rdisc_leave,   rdisc_close};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* A refused or missing password, or a database that cannot be selected,
 * will not change by trying again. */
static int lasting(const char *why) {
    return strstr(why, "refused the password") || strstr(why, "requires a password") ||
           strstr(why, "cannot select");
}

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
        registry_keys_init(&d->keys, cfg->group, cfg->me.name, cfg->me.type, cfg->secrets,
                           cfg->me.curve) != 0 ||
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
        if (lasting(why)) break;
        if (tries > cfg->max_connect_retries) break;
        if (cfg->sleep(cfg->sleep_ctx, wait)) {
            *stopped = 1;
            snprintf(err, errlen, "interrupted while connecting to Redis");
            rdisc_close(&d->base);
            return NULL;
        }
        wait *= 2;
    }
    if (lasting(why))
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
