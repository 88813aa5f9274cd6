/* senders.h: what a proxy knows of each run of a member that sent to it:
 * the last packet number it got (a packet numbered no higher is a copy
 * sent again, and is dropped), and what it has acknowledged so far. Data
 * only; bounded, so that strangers inventing runs cannot grow it. */
#ifndef MARO_SENDERS_H
#define MARO_SENDERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/strmap.h"
#include "wire/packet.h"

#define SENDERS_MAX 4096

typedef struct sender {
    uint8_t incarnation[WIRE_INCARNATION_LEN];
    char *name;
    uint64_t last_seq;     /* the highest packet number received */
    uint64_t acked_seq;    /* the highest acknowledged */
    unsigned unacked;      /* packets received since the last acknowledgement handed over */
    unsigned since_flush;  /* packets acknowledged since one was last sent alone */
    double flush_at;       /* when to send the acknowledgement alone; 0: not due */
    double resolve_at;     /* unknown member: when to look its name up again */
    double seen;
    /* The peer it is, as found when the peer table was at peer_version
     * (0: not looked up yet; the table is empty at version 0): valid while
     * the version stays, since the table frees entries only as it changes. */
    struct peer *peer;
    unsigned long peer_version;
} sender;

typedef struct senders {
    sender **all;
    size_t n, cap;
    strmap by_incarnation;
} senders;

void senders_init(senders *s);
void senders_free(senders *s);
/* The state of that run; made (forgetting the one seen longest ago when
 * full) when new. NULL when out of memory. */
sender *senders_get(senders *s, const uint8_t *incarnation, const char *name, size_t name_len,
                    double now);

/* A member that is gone for good is owed nothing more: what its runs are
 * owed cannot reach them, and waiting to send it would never end. */
void senders_owe_nothing(senders *s, const char *name);

#endif
