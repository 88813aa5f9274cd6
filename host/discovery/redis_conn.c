#include "discovery/redis_conn.h"

#include <stdio.h>
#include <string.h>

static struct timeval seconds(double s) {
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (time_t)s) * 1e6)};
    return tv;
}

redisContext *redis_conn_open(const redis_target *t, double timeout, char *err, size_t errlen) {
    redisContext *c = redisConnectWithTimeout(t->host, t->port, seconds(timeout));
    if (!c || c->err) {
        snprintf(err, errlen, "Redis at %s:%d: %s", t->host, t->port,
                 c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, seconds(timeout));
    if (t->password) {
        const char *argv[3] = {"AUTH", t->user ? t->user : t->password, t->password};
        redisReply *r = redisCommandArgv(c, t->user ? 3 : 2, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            /* Redis's own text names neither the password nor the user. */
            snprintf(err, errlen, "Redis at %s:%d refused the password%s%s%s: %s", t->host,
                     t->port, t->user ? " of user '" : "", t->user ? t->user : "",
                     t->user ? "'" : "", r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (t->db) {
        redisReply *r = redisCommand(c, "SELECT %d", t->db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis at %s:%d cannot select database %d: %s", t->host,
                     t->port, t->db, r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

/* A server that wants a password and got none answers the first command
 * with NOAUTH, or, for a long one, with "Protocol error: unauthenticated
 * multibulk length"; neither says where the password goes. Asking it first
 * (PING) would cost every connection a round trip. */
void redis_conn_error(const redis_target *t, const char *reply, char *err, size_t errlen) {
    if (!t->password && (strncmp(reply, "NOAUTH", 6) == 0 || strstr(reply, "unauthenticated")))
        snprintf(err, errlen, "Redis at %s:%d requires a password: give it in the address, "
                 "redis://[user:]password@%s:%d", t->host, t->port, t->host, t->port);
    else snprintf(err, errlen, "Redis at %s:%d answered: %s", t->host, t->port, reply);
}

redisReply *redis_conn_command(redisContext **c, const redis_target *t, int argc,
                               const char **argv, const size_t *lens, char *err,
                               size_t errlen) {
    if (!*c) {
        snprintf(err, errlen, "Redis at %s:%d: not connected", t->host, t->port);
        return NULL;
    }
    redisReply *r = redisCommandArgv(*c, argc, argv, lens);
    if (!r) {
        snprintf(err, errlen, "Redis at %s:%d: %s", t->host, t->port,
                 (*c)->err == REDIS_ERR_IO && strcmp((*c)->errstr, "Resource temporarily "
                                                                   "unavailable") == 0
                     ? "no answer in time"
                     : (*c)->errstr);
        redisFree(*c);
        *c = NULL;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        redis_conn_error(t, r->str, err, errlen);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}
