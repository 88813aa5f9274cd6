#include "proxy/closed_group.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"

/* How long one lookup of a connecting peer's key in Redis may take, and how
 * long the peer is kept waiting in all. A connection that is refused, or
 * closed before it is let in, is not made again by libzmq's client (not
 * even after ZAP's "temporary failure"), so a member whose key cannot be
 * checked yet (this member has bound its socket but not joined; Redis is
 * slow or away) waits for the answer instead: libzmq gives a handshake
 * 30 s. */
#define AUTHORIZE_TRY 2.0
#define AUTHORIZE_PATIENCE 20.0

/* On the transport's handler thread: a connecting key is let in when it is
 * in the signed registration of a live member. */
static int authorize_key(void *ctx, const char *key, char *name, size_t namelen) {
    proxy *p = ctx;
    double give_up = clock_now() + AUTHORIZE_PATIENCE;
    registration r;
    char err[300] = "not joined yet";
    for (;;) {
        if (atomic_load(&p->authorizer_stop)) return 0;
        discovery *d = atomic_load(&p->authorizer);
        int found = d ? discovery_authorize(d, key, AUTHORIZE_TRY, &r, err, sizeof err) : -1;
        if (found == 0) return 0;
        if (found == 1) break;
        if (clock_now() >= give_up) {
            log_warn("'%s' could not tell within %.0f s whose key %s is (%s); dropped that "
                     "connection", p->name, AUTHORIZE_PATIENCE, key, err);
            return -1;
        }
        log_debug("'%s' cannot tell yet whose key %s is: %s", p->name, key, err);
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    snprintf(name, namelen, "%s", r.name);
    registration_free(&r);
    return 1;
}

int closed_group_load(proxy *p, const proxy_config *c, char *err, size_t errlen) {
    if (!c->group_key_file) return 0;
    if (c->hub) {
        snprintf(err, errlen, "group_key: the proxies of a hub (maro.testing) are one process "
                 "and take no group key");
        return -1;
    }
    char why[512];
    if (group_key_load_secrets(c->group_key_file, &p->secrets, why, sizeof why) != 0) {
        snprintf(err, errlen, "group_key: %s", why);
        return -1;
    }
    p->closed = 1;
    return 0;
}

void closed_group_secure(proxy *p, transport_config *tc) {
    if (!p->closed) return;
    tc->authorize = authorize_key;
    tc->authorize_ctx = p;
}

static int is_loopback(const char *host) {
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
    return strcmp(host, "localhost") == 0;
}

void closed_group_warn_if_open(const proxy *p, const char *bind_host) {
    if (p->closed || is_loopback(bind_host)) return;
    log_warn("group '%s' is open: '%s' receives on %s, where anyone who reaches it (or its "
             "Redis) can join, read and send; give the group a key (group_key or "
             "MARO_GROUP_KEY_FILE; docs/security.md)", p->group, p->name,
             transport_address(p->tr));
}
