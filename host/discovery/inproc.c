/* inproc.c: discovery among the proxies of one process (a hub, see
 * transport/inproc.h). Members are a list in the hub; they need no heartbeat
 * since they cannot die without leaving. A join or a leave calls the other
 * members' on_change at once, so their peer tables are current at their
 * next call, without a descriptor to poll. */
#include "discovery/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/inproc.h"

struct inproc_member {
    struct inproc_member *next;
    char *group, *name, *type, *address;
    struct idisc *owner;
};

typedef struct idisc {
    discovery base;
    inproc_hub *hub;
    discovery_config cfg;
    char *group;
    struct inproc_member *me; /* NULL until joined */
} idisc;

static void member_free(struct inproc_member *m) {
    free(m->group);
    free(m->name);
    free(m->type);
    free(m->address);
    free(m);
}

static struct inproc_member *find(idisc *d, const char *name) {
    for (struct inproc_member *m = d->hub->members; m; m = m->next)
        if (strcmp(m->group, d->group) == 0 && strcmp(m->name, name) == 0) return m;
    return NULL;
}

/* Tells the other members of the group that someone joined or left. */
static void announce(idisc *d) {
    for (struct inproc_member *m = d->hub->members; m; m = m->next)
        if (m->owner != d && strcmp(m->group, d->group) == 0 && m->owner->cfg.on_change)
            m->owner->cfg.on_change(m->owner->cfg.change_ctx);
}

static int copy_member(const struct inproc_member *m, discovery_member *out) {
    out->name = strdup(m->name);
    out->type = strdup(m->type);
    out->address = strdup(m->address);
    if (out->name && out->type && out->address) return 0;
    discovery_free_member(out);
    return -1;
}

static int idisc_join(discovery *base, const char *name, const char *type, const char *address,
                      char *err, size_t errlen) {
    idisc *d = (idisc *)base;
    struct inproc_member *other = find(d, name);
    if (other) {
        snprintf(err, errlen, "the name '%s' is taken in group '%s' (by the member at %s)", name,
                 d->group, other->address);
        return DISCOVERY_TAKEN;
    }
    struct inproc_member *m = calloc(1, sizeof *m);
    if (m) {
        m->group = strdup(d->group);
        m->name = strdup(name);
        m->type = strdup(type);
        m->address = strdup(address);
    }
    if (!m || !m->group || !m->name || !m->type || !m->address) {
        if (m) member_free(m);
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    m->owner = d;
    m->next = d->hub->members;
    d->hub->members = m;
    d->me = m;
    announce(d);
    return DISCOVERY_OK;
}

static int idisc_lookup_type(discovery *base, const char *type, discovery_member **out,
                             size_t *n, char *err, size_t errlen) {
    idisc *d = (idisc *)base;
    size_t count = 0, k = 0;
    for (struct inproc_member *m = d->hub->members; m; m = m->next)
        count += strcmp(m->group, d->group) == 0 && strcmp(m->type, type) == 0;
    discovery_member *a = calloc(count ? count : 1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    for (struct inproc_member *m = d->hub->members; m; m = m->next) {
        if (strcmp(m->group, d->group) != 0 || strcmp(m->type, type) != 0) continue;
        if (copy_member(m, &a[k]) != 0) {
            discovery_free_members(a, k);
            snprintf(err, errlen, "out of memory");
            return DISCOVERY_ERROR;
        }
        k++;
    }
    *out = a;
    *n = k;
    return DISCOVERY_OK;
}

static int idisc_lookup_name(discovery *base, const char *name, discovery_member *out,
                             char *err, size_t errlen) {
    struct inproc_member *m = find((idisc *)base, name);
    if (!m) return 0;
    if (copy_member(m, out) != 0) {
        snprintf(err, errlen, "out of memory");
        return DISCOVERY_ERROR;
    }
    return 1;
}

static int idisc_notify_fd(discovery *base) {
    (void)base;
    return -1; /* changes are announced through on_change */
}

static int idisc_changes(discovery *base) {
    (void)base;
    return 0;
}

static void idisc_leave(discovery *base) {
    idisc *d = (idisc *)base;
    if (!d->me) return;
    for (struct inproc_member **pp = &d->hub->members; *pp; pp = &(*pp)->next)
        if (*pp == d->me) {
            *pp = d->me->next;
            break;
        }
    member_free(d->me);
    d->me = NULL;
    announce(d);
}

static void idisc_close(discovery *base) {
    idisc *d = (idisc *)base;
    idisc_leave(base);
    inproc_hub_unref(d->hub);
    free(d->group);
    free(d);
}

static const struct discovery_ops idisc_ops = {
    idisc_join,     idisc_lookup_type, idisc_lookup_name, idisc_notify_fd,
    idisc_changes,  idisc_leave,       idisc_close};

discovery *discovery_inproc_open(struct inproc_hub *hub, const discovery_config *cfg,
                                 char *err, size_t errlen) {
    idisc *d = calloc(1, sizeof *d);
    if (!d || !(d->group = strdup(cfg->group))) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base.ops = &idisc_ops;
    d->cfg = *cfg;
    d->hub = inproc_hub_ref(hub);
    return &d->base;
}
