/* rxbuf.h: received messages kept in arrival order until a receive takes
 * them, counted in messages and in bytes (the bounds max_buffered_messages
 * and max_buffered_bytes). */
#ifndef MARO_RXBUF_H
#define MARO_RXBUF_H

#include <stddef.h>

#include "base/blob.h"
#include "wire/header.h"

/* A received message that outlives the packet it came in: its header
 * fields copied into data[], its payload too when it is small, else held
 * in the blob it arrived in. */
typedef struct rx_item {
    struct rx_item *prev, *next;
    wire_header h;
    const char *payload;
    size_t payload_len;
    blob *owner; /* holds a large payload, or NULL */
    size_t bytes;
    char data[];
} rx_item;

/* NULL when out of memory. */
rx_item *rx_item_new(const wire_header *h, const char *payload, size_t len, blob *owner);
void rx_item_free(rx_item *it);

typedef struct rxbuf {
    rx_item *head, *tail;
    size_t count, bytes;
} rxbuf;

void rxbuf_push(rxbuf *b, rx_item *it);
void rxbuf_unlink(rxbuf *b, rx_item *it);
void rxbuf_clear(rxbuf *b);

#endif
