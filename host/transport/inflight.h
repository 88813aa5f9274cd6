/* inflight.h: the packets sent to one peer that it has not acknowledged,
 * oldest first: how many messages they hold (what close() reports as not
 * known to have arrived) and, when a peer's messages are kept for resending,
 * the packets themselves. A ring, so that a send allocates nothing. */
#ifndef MARO_INFLIGHT_H
#define MARO_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "base/blob.h"

typedef struct inflight_packet {
    uint64_t seq;
    uint32_t messages;
    blob *packet, *payload; /* kept for resending, or NULL */
} inflight_packet;

typedef struct inflight {
    inflight_packet *ring;
    size_t head, count, cap;
    uint64_t messages; /* in all of them */
} inflight;

void inflight_init(inflight *f);
void inflight_free(inflight *f);
/* Records a packet sent; takes the references given. 0, or -1 when out of memory. */
int inflight_push(inflight *f, uint64_t seq, uint32_t messages, blob *packet, blob *payload);
/* The peer acknowledged everything up to seq. */
void inflight_ack(inflight *f, uint64_t seq);
/* The i-th oldest packet not acknowledged. */
inflight_packet *inflight_at(inflight *f, size_t i);

#endif
