#include "proxy/rxbuf.h"

#include <stdlib.h>
#include <string.h>

/* Payloads up to this size are copied: holding a packet of 64 KiB for a
 * message of 100 bytes would count (and keep) far more than the message. */
#define COPY_MAX 1024

rx_item *rx_item_new(const wire_header *h, const char *payload, size_t len, blob *owner) {
    wire_slice s[7] = {h->group, h->tag, h->source, h->destination, h->session_id,
                       h->message_id, h->error};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += s[i].len;
    int copy = len <= COPY_MAX || !owner;
    rx_item *it = malloc(sizeof *it + total + (copy ? len : 0));
    if (!it) return NULL;
    it->prev = it->next = NULL;
    it->h = *h;
    wire_slice *d[7] = {&it->h.group, &it->h.tag, &it->h.source, &it->h.destination,
                        &it->h.session_id, &it->h.message_id, &it->h.error};
    char *o = it->data;
    for (int i = 0; i < 7; i++) {
        if (!s[i].ptr) continue; /* no error text */
        memcpy(o, s[i].ptr, s[i].len);
        *d[i] = (wire_slice){o, s[i].len};
        o += s[i].len;
    }
    if (copy) {
        memcpy(o, payload, len);
        it->payload = o;
        it->owner = NULL;
    } else {
        it->payload = payload;
        it->owner = blob_ref(owner);
    }
    it->payload_len = len;
    it->bytes = sizeof *it + total + len;
    return it;
}

void rx_item_free(rx_item *it) {
    if (!it) return;
    blob_unref(it->owner);
    free(it);
}

void rxbuf_push(rxbuf *b, rx_item *it) {
    it->next = NULL;
    it->prev = b->tail;
    if (b->tail) b->tail->next = it;
    else b->head = it;
    b->tail = it;
    b->count++;
    b->bytes += it->bytes;
}

void rxbuf_unlink(rxbuf *b, rx_item *it) {
    if (it->prev) it->prev->next = it->next;
    else b->head = it->next;
    if (it->next) it->next->prev = it->prev;
    else b->tail = it->prev;
    it->prev = it->next = NULL;
    b->count--;
    b->bytes -= it->bytes;
}

void rxbuf_clear(rxbuf *b) {
    while (b->head) {
        rx_item *it = b->head;
        rxbuf_unlink(b, it);
        rx_item_free(it);
    }
}
