/* batch.h: several messages in one frame. A sender that streams small
 * messages to a peer packs them into a single-frame ZeroMQ message: one
 * MessagePack array whose elements are, in turn, each message's header and
 * payload (docs/protocol.md, "Batches"). This writes and splits such frames. */
#ifndef MARO_BATCH_H
#define MARO_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wire/header.h"

/* The array header a batch starts with: always the 5-byte array 32 form, so
 * that its count can be written once the batch is complete. */
#define WIRE_BATCH_PREFIX 5

/* Starts a batch in an empty out (reserves the prefix); 0, or -1 out of memory. */
int wire_batch_begin(buf *out);
/* Writes the count of a batch of n messages into its prefix. */
void wire_batch_finish(buf *out, uint32_t n);

typedef struct wire_batch {
    const char *data;
    size_t len, off;
    uint64_t left; /* items still to come */
} wire_batch;

/* Reads the array header: 0, or -1 with err when the frame is no batch. */
int wire_batch_open(wire_batch *b, const char *data, size_t len, char *err, size_t errlen);

/* Takes the next message: its header and payload items, each exactly one
 * MessagePack item (their insides are checked later, by their decoders).
 * Returns 1, 0 at the end, or -1 with err naming the byte offset when the
 * rest of the frame cannot be read. */
int wire_batch_next(wire_batch *b, wire_slice *header, wire_slice *payload, char *err,
                    size_t errlen);

#endif
