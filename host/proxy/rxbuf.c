#include "proxy/rxbuf.h"

#include <stdlib.h>

void rxbuf_push(rxbuf *b, rx_item *it) {
    it->next = NULL;
    it->prev = b->tail;
    if (b->tail) b->tail->next = it;
    else b->head = it;
    b->tail = it;
    b->count++;
}

void rxbuf_unlink(rxbuf *b, rx_item *it) {
    if (it->prev) it->prev->next = it->next;
    else b->head = it->next;
    if (it->next) it->next->prev = it->prev;
    else b->tail = it->prev;
    it->prev = it->next = NULL;
    b->count--;
}

void rxbuf_clear(rxbuf *b) {
    while (b->head) {
        rx_item *it = b->head;
        rxbuf_unlink(b, it);
        rx_item_free(it);
    }
}

void rx_item_free(rx_item *it) {
    if (!it) return;
    blob_unref(it->header);
    blob_unref(it->payload);
    free(it);
}
