/* rxbuf.h: received messages kept in arrival order until a receive takes
 * them (those that arrived while a receive_by_id waited for others). */
#ifndef MARO_RXBUF_H
#define MARO_RXBUF_H

#include <stddef.h>

#include "base/blob.h"
#include "wire/header.h"

typedef struct rx_item {
    struct rx_item *prev, *next;
    blob *header, *payload;
    wire_header h; /* slices point into header */
} rx_item;

typedef struct rxbuf {
    rx_item *head, *tail;
    size_t count;
} rxbuf;

void rxbuf_push(rxbuf *b, rx_item *it);
void rxbuf_unlink(rxbuf *b, rx_item *it);
void rxbuf_clear(rxbuf *b);
void rx_item_free(rx_item *it);

#endif
