/* Reading a group for `marohost status`: the live members as the registry
 * functions that members use return them, so that status shows what
 * members see (and prunes what they would prune), and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "status_impl.h"

/* Replies of a server that does not answer within this long are errors:
 * status must not hang on a frozen Redis. */
#define STATUS_REDIS_TIMEOUT 2.0

int status_source_open(status_source *s, const status_options *o, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->group = o->group;
    s->url = o->redis;
    s->target = (redis_target){s->url.host, s->url.port, s->url.user[0] ? s->url.user : NULL,
                               s->url.password[0] ? s->url.password : NULL, s->url.db};
    if (o->key_file) {
        char why[512];
        if (group_key_load_secrets(o->key_file, &s->secrets, why, sizeof why) != 0) {
            snprintf(err, errlen, "group key: %s", why);
            return -1;
        }
        s->has_key = 1;
    }
    if (registry_keys_init(&s->keys, o->group, NULL, NULL, s->has_key ? &s->secrets : NULL,
                           NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Without the key, a closed group's signed registrations are shown too,
     * marked unverified; with it, only those it verifies. */
    s->keys.unverified = !s->has_key;
    return 0;
}

void status_source_close(status_source *s) {
    if (s->c) redisFree(s->c);
    registry_keys_free(&s->keys);
    group_key_wipe(&s->secrets, sizeof s->secrets);
    group_key_wipe(s->url.password, sizeof s->url.password);
    memset(s, 0, sizeof *s);
}

static int by_type_then_name(const void *a, const void *b) {
    const registration *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    return c ? c : strcmp(x->name, y->name);
}

/* Appends the n registrations of more to v (taking them). */
static int take(status_view *v, registration *more, size_t n) {
    registration *all = realloc(v->members, (v->n + n ? v->n + n : 1) * sizeof *all);
    if (!all) return -1;
    memcpy(all + v->n, more, n * sizeof *more);
    v->members = all;
    v->n += n;
    free(more);
    return 0;
}

/* closed, closed_fp: the group's key marker. */
static int read_closed(status_source *s, status_view *v, char *err, size_t errlen) {
    const char *argv[] = {"GET", s->keys.closed};
    redisReply *r = redis_conn_command(&s->c, &s->target, 2, argv, NULL, err, errlen);
    if (!r) return -1;
    v->closed = r->type == REDIS_REPLY_STRING;
    if (v->closed) snprintf(v->closed_fp, sizeof v->closed_fp, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    return 0;
}

static int read_members(status_source *s, status_view *v, char *err, size_t errlen) {
    char **types;
    size_t n_types;
    if (registry_types(&s->c, &s->target, &s->keys, &types, &n_types, err, errlen) != 0)
        return -1;
    v->has_types = n_types > 0;
    int rc = 0;
    for (size_t i = 0; i < n_types && rc == 0; i++) {
        registration *m;
        size_t n;
        rc = registry_lookup_type(&s->c, &s->target, &s->keys, types[i], &m, &n, err, errlen);
        if (rc == 0 && take(v, m, n) != 0) {
            registrations_free(m, n);
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    for (size_t i = 0; i < n_types; i++) free(types[i]);
    free(types);
    return rc;
}

int status_read(status_source *s, status_view *v, char *err, size_t errlen) {
    char why[512];
    memset(v, 0, sizeof *v);
    v->group = s->group;
    v->key_fp = s->has_key ? s->secrets.fingerprint : NULL;
    if (!s->c) s->c = redis_conn_open(&s->target, STATUS_REDIS_TIMEOUT, why, sizeof why);
    if (!s->c || read_closed(s, v, why, sizeof why) != 0 ||
        read_members(s, v, why, sizeof why) != 0) {
        /* redis_conn names host:port and never the password. */
        snprintf(err, errlen, "cannot read group '%s': %s", s->group, why);
        status_view_free(v);
        return -1;
    }
    if (v->n) qsort(v->members, v->n, sizeof *v->members, by_type_then_name);
    v->now_ms = clock_wall_ms();
    return 0;
}

void status_view_free(status_view *v) {
    registrations_free(v->members, v->n);
    v->members = NULL;
    v->n = 0;
}

long long status_up_ms(const status_view *v, const registration *r) {
    if (r->started_ms <= 0) return -1;
    return v->now_ms > r->started_ms ? v->now_ms - r->started_ms : 0;
}
