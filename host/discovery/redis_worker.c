/* redis_worker.c: the thread of the Redis backend that owns every Redis
 * connection once the member has joined. It refreshes the registration
 * every heartbeat_interval, listens on the group's change channel, looks
 * the followed types up when a member of one arrives or leaves and every
 * refresh_interval, and answers lookups by name; the script's thread only
 * reads what it learned (redis.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "discovery/redis_impl.h"

/* ---- small things -------------------------------------------------------- */

void rdisc_poke(int fd) {
    ssize_t n = write(fd, "x", 1);
    (void)n; /* a full pipe is readable already */
}

void rdisc_drain(int fd) {
    char junk[64];
    while (read(fd, junk, sizeof junk) > 0) {
    }
}


/* Called by the worker with the lock held when a view changed. The byte
 * goes first, so that a reader that sees the new version finds it to drain. */
static void changed(rdisc *d) {
    rdisc_poke(d->notify[1]);
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
    if (registration_format(&me, d->cfg.secrets, &d->value, &d->identity_len) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return registry_register(&d->c, &d->target, &d->keys, d->value.data, d->value.len,
                             d->identity_len, d->cfg.heartbeat_expiry, d->name, d->type, NULL,
                             0, NULL, err, errlen);
}

int rdisc_refresh(rdisc *d, int with_types, char *err, size_t errlen) {
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
    if (rc == 0 && with_types) {
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

void rdisc_free_request(request *q) {
    if (q->done && q->found == 1) registration_free(&q->answer);
    free(q->name);
    free(q);
}

/* Answers lookups by name or key. A request whose asker stopped waiting is the
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
        else if (q->by_key)
            found = registry_lookup_key(&d->c, &d->target, &d->keys, name, &r, err, sizeof err);
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
            rdisc_free_request(q);
        }
        pthread_cond_broadcast(&d->answered);
        pthread_mutex_unlock(&d->lock);
    }
}

static int in_view(const discovery_view *v, const char *name) {
    for (size_t j = 0; j < v->n; j++)
        if (strcmp(v->members[j].name, name) == 0) return 1;
    return 0;
}

/* Whether an announcement calls for a lookup: an arrival (type given) of a
 * type this member follows, or a departure of a member it knows. Others do
 * not: when a group of N joins at once, every member looking up on every
 * arrival made N * N lookups of Redis. Called with the lock held. */
static int concerns_us(const rdisc *d, const char *name, const char *type) {
    for (size_t i = 0; i < d->n_types; i++)
        if (type ? strcmp(d->types[i].type, type) == 0 : in_view(&d->types[i].view, name))
            return 1;
    return 0;
}

/* Reads what arrived on the change channel ("+NAME\nTYPE" or "-NAME");
 * -1 when the connection broke. */
static int read_changes(rdisc *d, redisContext *sub) {
    if (redisBufferRead(sub) != REDIS_OK) return -1;
    void *reply;
    while (redisGetReplyFromReader(sub, &reply) == REDIS_OK && reply) {
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len > 1) {
            char *msg = r->element[2]->str, *type = strchr(msg, '\n');
            if (type) *type++ = '\0'; /* the name ends there */
            pthread_mutex_lock(&d->lock);
            if (msg[0] == '-') note_goodbye(d, msg + 1);
            else forget_goodbye(d, msg + 1);
            int departure = msg[0] == '-';
            /* An arrival that does not say its type may be of any. */
            if ((!departure && !type) || concerns_us(d, msg + 1, departure ? NULL : type))
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
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) redis_conn_error(&d->target, r->str, err, sizeof err);
        else if (s) snprintf(err, sizeof err, "%s", s->errstr);
        log_debug("no change notifications from Redis: %s", err);
        if (r) freeReplyObject(r);
        if (s) redisFree(s);
        return NULL;
    }
    freeReplyObject(r);
    return s;
}

static void *worker_main(void *arg) {
    rdisc *d = arg;
    redisContext *sub = NULL;
    double now = clock_now(), beat_at = now + d->cfg.heartbeat_interval;
    double refresh_at = d->looked_up ? now + d->cfg.refresh_interval : now;
    double reconnect_at = now, resubscribe_at = now;
    int was_down = 0;
    log_limiter lim = {0, 0}, taken_lim = {0, 0};
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
        int failed = !d->c;
        if (d->c && now >= beat_at) {
            beat_at = now + d->cfg.heartbeat_interval;
            int rc = heartbeat(d, err, sizeof err);
            failed |= rc < 0;
            unsigned long held_taken;
            if (rc == REGISTRY_TAKEN && log_limiter_pass(&taken_lim, 30.0, &held_taken))
                log_error("component name '%s' in group '%s' is now held by another member "
                          "(%s; %lu more such errors held back); peers reach that member under "
                          "this name", d->name, d->group, err, held_taken);
        }
        if (d->c && (now_please || now >= refresh_at)) {
            int periodic = now >= refresh_at;
            refresh_at = now + d->cfg.refresh_interval;
            failed |= rdisc_refresh(d, periodic, err, sizeof err) != 0;
        }
        /* After the first lookup, not before: a joining member waiting for
         * its peers gets their addresses one connection sooner. */
        if (d->c && !sub && now >= resubscribe_at) {
            resubscribe_at = now + 1.0;
            if ((sub = subscribe(d))) refresh_at = now; /* changes may have been missed */
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
            if (pfd[0].revents) rdisc_drain(d->wake[0]);
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

int rdisc_start_worker(rdisc *d) {
    sigset_t all, old; /* signals belong to the main thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d->running = pthread_create(&d->thread, NULL, worker_main, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d->running ? 0 : -1;
}

void rdisc_stop_worker(rdisc *d) {
    if (!d->running) return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_mutex_unlock(&d->lock);
    rdisc_poke(d->wake[1]);
    pthread_join(d->thread, NULL);
    d->running = 0;
    /* Whoever still waits for an answer gets one now, not at its timeout. */
    pthread_mutex_lock(&d->lock);
    for (request *q = d->requests; q; q = q->next)
        if (!q->done) {
            q->done = 1;
            q->found = -1;
            snprintf(q->err, sizeof q->err, "this member is leaving its group");
        }
    pthread_cond_broadcast(&d->answered);
    pthread_mutex_unlock(&d->lock);
}

