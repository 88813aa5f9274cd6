#include "transport/inflight.h"

#include <stdlib.h>

void inflight_init(inflight *f) { *f = (inflight){NULL, 0, 0, 0, 0}; }

static void release(inflight_packet *e) {
    blob_unref(e->packet);
    blob_unref(e->payload);
}

void inflight_free(inflight *f) {
    for (size_t i = 0; i < f->count; i++) release(inflight_at(f, i));
    free(f->ring);
    inflight_init(f);
}

inflight_packet *inflight_at(inflight *f, size_t i) {
    return &f->ring[(f->head + i) & (f->cap - 1)];
}

int inflight_push(inflight *f, uint64_t seq, uint32_t messages, blob *packet, blob *payload) {
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64; /* a power of two: the index is a mask */
        inflight_packet *r = malloc(cap * sizeof *r);
        if (!r) {
            blob_unref(packet);
            blob_unref(payload);
            return -1;
        }
        for (size_t i = 0; i < f->count; i++) r[i] = *inflight_at(f, i);
        free(f->ring);
        f->ring = r;
        f->cap = cap;
        f->head = 0;
    }
    *inflight_at(f, f->count) = (inflight_packet){seq, messages, packet, payload};
    f->count++;
    f->messages += messages;
    return 0;
}

void inflight_ack(inflight *f, uint64_t seq) {
    while (f->count) {
        inflight_packet *e = inflight_at(f, 0);
        if (e->seq > seq) break;
        f->messages -= e->messages;
        release(e);
        f->head = (f->head + 1) & (f->cap - 1);
        f->count--;
    }
}
