/* blob.h: immutable, reference-counted bytes, shared between a message and
 * the sends that carry it (a broadcast encodes once and sends one blob to
 * every peer). The count is atomic because a transport may drop its
 * reference from its own I/O thread. */
#ifndef MARO_BLOB_H
#define MARO_BLOB_H

#include <stddef.h>

typedef struct blob blob;

blob *blob_copy(const void *data, size_t size);   /* NULL when out of memory */
blob *blob_take(char *data, size_t size);          /* owns data (malloc'd); frees it on failure */
/* Shares bytes that someone else owns; release(ctx) runs when the last
 * reference goes, possibly on another thread. */
blob *blob_wrap(const char *data, size_t size, void (*release)(void *ctx), void *ctx);
/* A copy of data in *spare, reused while no one else holds it (a sender's
 * payload of the moment), else in a fresh blob that becomes *spare; returns
 * a new reference to it, or NULL when out of memory. */
blob *blob_refill(blob **spare, const void *data, size_t size);
blob *blob_ref(blob *b);
void blob_unref(blob *b);
const char *blob_data(const blob *b);
size_t blob_size(const blob *b);

#endif
