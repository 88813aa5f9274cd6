/* inproc.h: a hub, the meeting place of proxies that live in one process
 * (maro.testing). Its members find each other through the in-process
 * discovery backend (discovery/inproc.c) and exchange encoded frames through
 * the in-process transport (transport/inproc.c): no Redis, no sockets, and
 * the same encoding and decoding as on the network.
 *
 * All members of a hub run on one thread (one Lua state): a message is
 * queued at its receiver as it is sent, and nothing can arrive while a
 * member waits except what the hub's idle hook makes other members do. */
#ifndef MARO_INPROC_H
#define MARO_INPROC_H

struct inproc_endpoint;
struct inproc_member;

/* Called while a member waits and nothing has arrived for it, so that other
 * members can be driven (a spec's dist worker steps); address is the
 * waiting member's. Returns nonzero when it did something. */
typedef int (*inproc_idle_fn)(void *ctx, const char *address);

typedef struct inproc_hub {
    int refs;
    unsigned long id;
    unsigned long next_endpoint;      /* numbers the addresses "inproc://ID/N" */
    unsigned long delivered;          /* messages queued so far, to see progress */
    unsigned long members_version;    /* grows when a member joins or leaves */
    struct inproc_endpoint *endpoints; /* owned by transport/inproc.c */
    struct inproc_member *members;     /* owned by discovery/inproc.c */
    inproc_idle_fn idle;
    void *idle_ctx;
} inproc_hub;

inproc_hub *inproc_hub_new(void); /* with one reference; NULL when out of memory */
inproc_hub *inproc_hub_ref(inproc_hub *h);
void inproc_hub_unref(inproc_hub *h); /* freed with the last reference */
void inproc_hub_set_idle(inproc_hub *h, inproc_idle_fn fn, void *ctx);

#endif
