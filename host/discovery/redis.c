/* redis.c: discovery through Redis.
 *
 * Keys, for group G:
 *   maro:G:member:NAME   "TYPE\nADDRESS", expires after heartbeat_expiry unless
 *                        refreshed: the liveness of one member
 *   maro:G:type:TYPE     hash NAME -> ADDRESS: the index used to list a type
 *   maro:G:changes       a channel: a member's name is published when it
 *                        registers (again) or leaves, so that peers refresh
 *                        at once instead of at their next periodic lookup
 * Every change runs as one Lua script, so two members racing for a name, or
 * a lookup pruning a dead entry while its owner comes back, cannot interleave.
 *
 * The heartbeat runs on a thread of its own with its own connection: a
 * script that computes for a minute without calling the proxy is alive, and
 * must not drop out of its group. A crashed process takes its thread along,
 * and its member key expires. */
#include "discovery/discovery.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"

/* Registers or refreshes; returns the other owner's value when the name is
 * taken, unless ARGV[6] is '1' (take_over_name). A new value is announced, so
 * peers reconnect to a successor at once. */
static const char *const JOIN_SCRIPT =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and cur ~= ARGV[1] and ARGV[6] ~= '1' then return cur end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])\n"
    "if cur ~= ARGV[1] then redis.call('PUBLISH', ARGV[5], ARGV[3]) end\n"
    "return 0\n";

/* Lists the live members of a type and prunes index entries whose member key expired. */
static const char *const LOOKUP_SCRIPT =
    "local out = {}\n"
    "local want = ARGV[2] .. '\\n'\n"
    "for _, n in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  local v = redis.call('GET', ARGV[1] .. n)\n"
    "  if v and string.sub(v, 1, #want) == want then\n"
    "    out[#out + 1] = n\n"
    "    out[#out + 1] = string.sub(v, #want + 1)\n"
    "  else\n"
    "    redis.call('HDEL', KEYS[1], n)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Removes the registration, but only our own (a successor may hold the name). */
static const char *const LEAVE_SCRIPT =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('HDEL', KEYS[2], ARGV[2])\n"
    "  redis.call('PUBLISH', ARGV[3], ARGV[2])\n"
    "end\n"
    "return 0\n";

typedef struct rdisc {
    discovery base;
    discovery_config cfg;
    char host[256], group[1100];
    redisContext *c;
    double reconnect_at; /* no new connection for c before this */
    char last_error[256];
    /* set by join */
    char *name, *member_key, *type_key, *value, *address, *channel;
    redisContext *sub; /* subscribed to the channel, or NULL */
    double resubscribe_at; /* when to try again after losing it */
    int joined;
    pthread_t thread;
    int thread_running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
} rdisc;

static char *fmt_alloc(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, a, b);
    return s;
}

static redisContext *connect_once(const rdisc *d, char *why, size_t whylen) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout(d->host, d->cfg.port, tv);
    if (!c || c->err) {
        snprintf(why, whylen, "%s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    struct timeval rw = {5, 0}; /* a hung Redis must not hang the proxy */
    redisSetTimeout(c, rw);
    return c;
}

/* Runs a command on *cp, reconnecting once when the connection broke. On
 * the main connection a failed reconnection is not tried again for a second,
 * so that a Redis that does not answer cannot stall every send. */
static redisReply *command(rdisc *d, redisContext **cp, int argc, const char **argv,
                           char *err, size_t errlen) {
    int main_connection = cp == &d->c;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!*cp) {
            char why[256];
            if (main_connection && clock_now() < d->reconnect_at) {
                snprintf(err, errlen, "Redis at %s:%d is unreachable (%s)", d->host,
                         d->cfg.port, d->last_error);
                return NULL;
            }
            *cp = connect_once(d, why, sizeof why);
            if (!*cp) {
                if (main_connection) {
                    d->reconnect_at = clock_now() + 1.0;
                    snprintf(d->last_error, sizeof d->last_error, "%s", why);
                }
                snprintf(err, errlen, "Redis at %s:%d: %s", d->host, d->cfg.port, why);
                return NULL;
            }
        }
        redisReply *r = redisCommandArgv(*cp, argc, argv, NULL);
        if (r) {
            if (r->type == REDIS_REPLY_ERROR) {
                snprintf(err, errlen, "Redis at %s:%d answered: %s", d->host, d->cfg.port,
                         r->str);
                freeReplyObject(r);
                return NULL;
            }
            return r;
        }
        snprintf(err, errlen, "Redis at %s:%d: %s", d->host, d->cfg.port, (*cp)->errstr);
        redisFree(*cp);
        *cp = NULL;
    }
    return NULL;
}

/* 0 registered, 1 taken (err names the owner), -1 error. */
static int run_join(rdisc *d, redisContext **cp, int take_over, char *err, size_t errlen) {
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(d->cfg.heartbeat_expiry * 1000.0 + 0.5));
    const char *argv[] = {"EVAL",      JOIN_SCRIPT, "2",     d->member_key,
                          d->type_key, d->value,    ttl,     d->name,
                          d->address,  d->channel,  take_over ? "1" : "0"};
    redisReply *r = command(d, cp, 11, argv, err, errlen);
    if (!r) return -1;
    int taken = r->type == REDIS_REPLY_STRING;
    if (taken) {
        const char *nl = memchr(r->str, '\n', r->len);
        snprintf(err, errlen, "%s", nl ? nl + 1 : r->str);
    }
    freeReplyObject(r);
    return taken;
}

static void *heartbeat_main(void *arg) {
    rdisc *d = arg;
    redisContext *c = NULL;
    int warned = 0;
    log_limiter lim = {0, 0};
    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        struct timespec until = clock_timespec(clock_now() + d->cfg.heartbeat_interval);
        pthread_cond_timedwait(&d->wake, &d->lock, &until);
        if (d->stop) break;
        pthread_mutex_unlock(&d->lock);
        char err[512];
        int rc = run_join(d, &c, 0, err, sizeof err);
        unsigned long held;
        if (rc < 0 && log_limiter_pass(&lim, 10.0, &held))
            log_warn("heartbeat for '%s' failed (%lu more held back): %s", d->name, held, err);
        if (rc == 1 && !warned) {
            warned = 1;
            log_error("component name '%s' in group '%s' was taken over by %s while this "
                      "process was silent; peers now reach that process under this name",
                      d->name, d->group, err);
        }
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    if (c) redisFree(c);
    return NULL;
}

/* Opens the connection that hears of joins and leaves; without it the proxy
 * still notices them at its periodic lookups. */
static void subscribe(rdisc *d) {
    char why[256];
    d->sub = connect_once(d, why, sizeof why);
    redisReply *r = d->sub ? redisCommand(d->sub, "SUBSCRIBE %s", d->channel) : NULL;
    if (!r) {
        log_debug("no change notifications from Redis: %s", d->sub ? d->sub->errstr : why);
        if (d->sub) redisFree(d->sub);
        d->sub = NULL;
        return;
    }
    freeReplyObject(r);
}

static int rdisc_notify_fd(discovery *base) {
    rdisc *d = (rdisc *)base;
    if (!d->sub && d->joined && d->resubscribe_at > 0 && clock_now() >= d->resubscribe_at) {
        d->resubscribe_at = clock_now() + 10.0; /* Redis may stay away a while */
        subscribe(d);
        if (d->sub) log_info("change notifications from Redis are back");
    }
    return d->sub ? d->sub->fd : -1;
}

static int rdisc_changes(discovery *base) {
    rdisc *d = (rdisc *)base;
    if (!d->sub) return 0;
    int n = 0;
    void *reply;
    if (redisBufferRead(d->sub) != REDIS_OK) {
        log_warn("lost the change notifications from Redis (%s); noticing joins and leaves "
                 "by periodic lookups until they are back", d->sub->errstr);
        redisFree(d->sub);
        d->sub = NULL;
        d->resubscribe_at = clock_now() + 1.0;
        return 1;
    }
    while (redisGetReplyFromReader(d->sub, &reply) == REDIS_OK && reply) {
        n++;
        freeReplyObject(reply);
    }
    return n;
}

static int rdisc_join(discovery *base, const char *name, const char *type, const char *address,
                      char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "maro:%s:", d->group);
    d->name = strdup(name);
    d->address = strdup(address);
    d->member_key = fmt_alloc("%smember:%s", prefix, name);
    d->type_key = fmt_alloc("%stype:%s", prefix, type);
    d->value = fmt_alloc("%s\n%s", type, address);
    d->channel = fmt_alloc("%s%s", prefix, "changes");
    if (!d->name || !d->address || !d->member_key || !d->type_key || !d->value || !d->channel) {
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    /* A member that crashed keeps its name until its key expires: a restart
     * under the same name waits that long before calling the name taken,
     * unless it knows its predecessor is dead (take_over_name). */
    double give_up = clock_now() + d->cfg.heartbeat_expiry + d->cfg.heartbeat_interval;
    for (;;) {
        char owner[512];
        int rc = run_join(d, &d->c, d->cfg.take_over_name, owner, sizeof owner);
        if (rc < 0) {
            snprintf(err, errlen, "cannot register: %s", owner);
            return DISCOVERY_ERROR;
        }
        if (rc == 0) break;
        if (clock_now() >= give_up) {
            snprintf(err, errlen, "component name '%s' is already used by a live member of "
                     "group '%s' (at %s); give each component a unique component_name",
                     name, d->group, owner);
            return DISCOVERY_TAKEN;
        }
        if (d->cfg.sleep(d->cfg.sleep_ctx, 0.1)) return DISCOVERY_STOPPED;
    }
    d->joined = 1;
    subscribe(d);
    /* The heartbeat thread must not take SIGINT/SIGTERM: they belong to the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d->stop = 0;
    d->thread_running = pthread_create(&d->thread, NULL, heartbeat_main, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d->thread_running)
        log_warn("cannot start the heartbeat thread; '%s' will drop out of discovery after "
                 "%.1f s", name, d->cfg.heartbeat_expiry);
    return DISCOVERY_OK;
}

static int rdisc_lookup_type(discovery *base, const char *type, discovery_member **out,
                             size_t *n, char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    char key[2400], prefix[1200];
    snprintf(key, sizeof key, "maro:%s:type:%s", d->group, type);
    snprintf(prefix, sizeof prefix, "maro:%s:member:", d->group);
    const char *argv[] = {"EVAL", LOOKUP_SCRIPT, "1", key, prefix, type};
    *out = NULL;
    *n = 0;
    redisReply *r = command(d, &d->c, 6, argv, err, errlen);
    if (!r) return DISCOVERY_ERROR;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        freeReplyObject(r);
        snprintf(err, errlen, "Redis gave an unexpected answer to a lookup");
        return DISCOVERY_ERROR;
    }
    size_t count = r->elements / 2;
    discovery_member *m = calloc(count ? count : 1, sizeof *m);
    if (!m) {
        freeReplyObject(r);
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    int oom = 0;
    for (size_t i = 0; i < count; i++) {
        m[i].name = strdup(r->element[2 * i]->str ? r->element[2 * i]->str : "");
        m[i].address = strdup(r->element[2 * i + 1]->str ? r->element[2 * i + 1]->str : "");
        m[i].type = strdup(type);
        oom |= !m[i].name || !m[i].address || !m[i].type;
    }
    freeReplyObject(r);
    if (oom) {
        discovery_free_members(m, count);
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    *out = m;
    *n = count;
    return DISCOVERY_OK;
}

static int rdisc_lookup_name(discovery *base, const char *name, discovery_member *out,
                             char *err, size_t errlen) {
    rdisc *d = (rdisc *)base;
    char key[2400];
    snprintf(key, sizeof key, "maro:%s:member:%s", d->group, name);
    const char *argv[] = {"GET", key};
    redisReply *r = command(d, &d->c, 2, argv, err, errlen);
    if (!r) return DISCOVERY_ERROR;
    int found = 0;
    if (r->type == REDIS_REPLY_STRING) {
        const char *nl = memchr(r->str, '\n', r->len);
        if (nl) {
            out->name = strdup(name);
            out->type = strndup(r->str, (size_t)(nl - r->str));
            out->address = strdup(nl + 1);
            found = 1;
            if (!out->name || !out->type || !out->address) {
                discovery_free_member(out);
                snprintf(err, errlen, "out of memory");
                found = DISCOVERY_ERROR;
            }
        }
    }
    freeReplyObject(r);
    return found;
}

static void stop_heartbeat(rdisc *d) {
    if (!d->thread_running) return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->thread_running = 0;
}

static void rdisc_leave(discovery *base) {
    rdisc *d = (rdisc *)base;
    stop_heartbeat(d);
    if (!d->joined) return;
    d->joined = 0;
    char err[512];
    if (d->sub) {
        redisFree(d->sub);
        d->sub = NULL;
    }
    const char *argv[] = {"EVAL", LEAVE_SCRIPT, "2", d->member_key, d->type_key, d->value,
                          d->name, d->channel};
    redisReply *r = command(d, &d->c, 8, argv, err, sizeof err);
    if (!r)
        log_warn("leaving group '%s': cannot remove '%s' (%s); it drops out when its "
                 "heartbeat expires", d->group, d->name, err);
    else
        freeReplyObject(r);
}

static void rdisc_close(discovery *base) {
    rdisc *d = (rdisc *)base;
    rdisc_leave(base);
    if (d->c) redisFree(d->c);
    free(d->name);
    free(d->address);
    free(d->member_key);
    free(d->type_key);
    free(d->value);
    free(d->channel);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    free(d);
}

static const struct discovery_ops rdisc_ops = {rdisc_join,      rdisc_lookup_type,
                                               rdisc_lookup_name, rdisc_notify_fd,
                                               rdisc_changes,   rdisc_leave,
                                               rdisc_close};

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
    snprintf(d->host, sizeof d->host, "%s", cfg->host);
    snprintf(d->group, sizeof d->group, "%s", cfg->group);
    d->cfg.host = d->host;
    d->cfg.group = d->group;
    pthread_mutex_init(&d->lock, NULL);
    clock_cond_init(&d->wake);
    double start = clock_now(), wait = cfg->initial_retry_interval;
    int tries = 0;
    char why[256] = "";
    for (;;) {
        tries++;
        d->c = connect_once(d, why, sizeof why);
        if (d->c) return &d->base;
        if (tries > cfg->max_connect_retries) break;
        if (cfg->sleep(cfg->sleep_ctx, wait)) {
            *stopped = 1;
            snprintf(err, errlen, "stopped by a signal while connecting to Redis");
            rdisc_close(&d->base);
            return NULL;
        }
        wait *= 2;
    }
    snprintf(err, errlen, "cannot reach Redis at %s:%d after %d tries over %.1f s (last error: "
             "%s); start Redis there, or set redis_address / MARO_REDIS",
             d->host, cfg->port, tries, clock_now() - start, why);
    rdisc_close(&d->base);
    return NULL;
}

void discovery_free_member(discovery_member *m) {
    if (!m) return;
    free(m->name);
    free(m->type);
    free(m->address);
    m->name = m->type = m->address = NULL;
}

void discovery_free_members(discovery_member *m, size_t n) {
    if (!m) return;
    for (size_t i = 0; i < n; i++) discovery_free_member(&m[i]);
    free(m);
}
