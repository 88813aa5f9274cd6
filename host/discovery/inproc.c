/* inproc.c: discovery among the proxies of one process (a hub, see
 * transport/inproc.h). Members are a list in the hub; they need no
 * heartbeat since they cannot die without leaving, so a member missing
 * from the list has always said goodbye. A join or a leave bumps the hub's
 * version, which every member reads before it sends: views are current at
 * once, without a descriptor to poll. */
#include "discovery/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/inproc.h"

struct inproc_member {
    struct inproc_member *next;
    char *group;
    registration r;
    struct idisc *owner;
};

typedef struct idisc {
    discovery base;
    inproc_hub *hub;
    char *group;
    registration me;
    struct inproc_member *joined; /* NULL until joined */
    char **types;
    size_t n_types;
} idisc;

static void member_free(struct inproc_member *m) {
    free(m->group);
    registration_free(&m->r);
    free(m);
}

static struct inproc_member *find(idisc *d, const char *name) {
    for (struct inproc_member *m = d->hub->members; m; m = m->next)
        if (strcmp(m->group, d->group) == 0 && strcmp(m->r.name, name) == 0) return m;
    return NULL;
}

static int idisc_join(discovery *base, char *err, size_t errlen) {
    idisc *d = (idisc *)base;
    struct inproc_member *other = find(d, d->me.name);
    if (other) {
        snprintf(err, errlen, "component name '%s' is already used by a live member of group "
                 "'%s' (at %s); give each component a unique component_name", d->me.name,
                 d->group, other->r.address);
        return DISCOVERY_TAKEN;
    }
    struct inproc_member *m = calloc(1, sizeof *m);
    if (!m || !(m->group = strdup(d->group)) || registration_copy(&m->r, &d->me) != 0) {
        if (m) free(m->group);
        free(m);
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    m->owner = d;
    m->next = d->hub->members;
    d->hub->members = m;
    d->joined = m;
    d->hub->members_version++;
    return DISCOVERY_OK;
}

static int idisc_follow(discovery *base, const char *type) {
    idisc *d = (idisc *)base;
    for (size_t i = 0; i < d->n_types; i++)
        if (strcmp(d->types[i], type) == 0) return 0;
    char **t = realloc(d->types, (d->n_types + 1) * sizeof *t);
    if (!t) return -1;
    d->types = t;
    if (!(t[d->n_types] = strdup(type))) return -1;
    d->n_types++;
    d->hub->members_version++; /* a first view is there to be read */
    return 0;
}

static uint64_t idisc_version(discovery *base) { return ((idisc *)base)->hub->members_version; }

static int idisc_view(discovery *base, const char *type, discovery_view *out) {
    idisc *d = (idisc *)base;
    memset(out, 0, sizeof *out);
    size_t count = 0;
    for (struct inproc_member *m = d->hub->members; m; m = m->next)
        count += strcmp(m->group, d->group) == 0 && strcmp(m->r.type, type) == 0;
    if (!(out->members = calloc(count ? count : 1, sizeof *out->members))) return -1;
    for (struct inproc_member *m = d->hub->members; m; m = m->next) {
        if (strcmp(m->group, d->group) != 0 || strcmp(m->r.type, type) != 0) continue;
        if (registration_copy(&out->members[out->n], &m->r) != 0) {
            discovery_view_free(out);
            return -1;
        }
        out->n++;
    }
    out->ok = 1;
    out->as_of = 1; /* always current */
    return 0;
}

static int idisc_said_goodbye(discovery *base, const char *name) {
    return find((idisc *)base, name) == NULL;
}

static int idisc_resolve(discovery *base, const char *name, double timeout, registration *out,
                         char *err, size_t errlen) {
    (void)timeout;
    struct inproc_member *m = find((idisc *)base, name);
    if (!m) return 0;
    if (registration_copy(out, &m->r) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

static int idisc_types(discovery *base, char ***out, size_t *n) {
    idisc *d = (idisc *)base;
    size_t count = 0, k = 0;
    for (struct inproc_member *m = d->hub->members; m; m = m->next) count++;
    char **a = calloc(count + 1, sizeof *a);
    if (!a) return -1;
    for (struct inproc_member *m = d->hub->members; m; m = m->next) {
        if (strcmp(m->group, d->group) != 0) continue;
        size_t i = 0;
        while (i < k && strcmp(a[i], m->r.type) != 0) i++;
        if (i == k && (a[k] = strdup(m->r.type))) k++;
    }
    *out = a;
    *n = k;
    return 0;
}

static int idisc_notify_fd(discovery *base) {
    (void)base;
    return -1;
}

static void idisc_set_stats(discovery *base, const registration_stats *s) {
    idisc *d = (idisc *)base;
    if (d->joined) d->joined->r.stats = *s;
}

static void idisc_leave(discovery *base) {
    idisc *d = (idisc *)base;
    if (!d->joined) return;
    for (struct inproc_member **pp = &d->hub->members; *pp; pp = &(*pp)->next)
        if (*pp == d->joined) {
            *pp = d->joined->next;
            break;
        }
    member_free(d->joined);
    d->joined = NULL;
    d->hub->members_version++;
}

static void idisc_close(discovery *base) {
    idisc *d = (idisc *)base;
    idisc_leave(base);
    inproc_hub_unref(d->hub);
    for (size_t i = 0; i < d->n_types; i++) free(d->types[i]);
    free(d->types);
    registration_free(&d->me);
    free(d->group);
    free(d);
}

static const struct discovery_ops idisc_ops = {
    idisc_join,         idisc_follow,  idisc_version, idisc_view,
    idisc_said_goodbye, idisc_resolve, NULL,          idisc_types,   idisc_notify_fd,
    idisc_set_stats,    idisc_leave,   idisc_close};

discovery *discovery_inproc_open(struct inproc_hub *hub, const discovery_config *cfg,
                                 char *err, size_t errlen) {
    idisc *d = calloc(1, sizeof *d);
    if (!d || !(d->group = strdup(cfg->group)) || registration_copy(&d->me, &cfg->me) != 0) {
        if (d) free(d->group);
        free(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base.ops = &idisc_ops;
    d->hub = inproc_hub_ref(hub);
    return &d->base;
}
