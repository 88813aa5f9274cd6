#include "base/blob.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct blob {
    atomic_int refs;
    size_t size, cap; /* cap: room in inline_data (copies only) */
    char *data; /* inline_data for copies, a taken buffer, or wrapped bytes */
    void (*release)(void *ctx);
    void *ctx;
    char inline_data[];
};

static blob *copy_with_room(const void *data, size_t size, size_t cap) {
    blob *b = malloc(sizeof *b + cap + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->size = size;
    b->cap = cap;
    b->data = b->inline_data;
    b->release = NULL;
    if (size) memcpy(b->data, data, size);
    b->data[size] = '\0';
    return b;
}

blob *blob_copy(const void *data, size_t size) { return copy_with_room(data, size, size); }

blob *blob_refill(blob **spare, const void *data, size_t size) {
    blob *b = *spare;
    /* Only when no one else holds it may its bytes change. */
    if (b && b->data == b->inline_data && b->cap >= size &&
        atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        memcpy(b->data, data, size);
        b->data[size] = '\0';
        b->size = size;
        return blob_ref(b);
    }
    blob_unref(b);
    *spare = copy_with_room(data, size, size < 256 ? 256 : size);
    return *spare ? blob_ref(*spare) : NULL;
}

blob *blob_take(char *data, size_t size) {
    blob *b = malloc(sizeof *b);
    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->size = size;
    b->cap = 0;
    b->data = data;
    b->release = NULL;
    return b;
}

blob *blob_wrap(const char *data, size_t size, void (*release)(void *ctx), void *ctx) {
    blob *b = malloc(sizeof *b);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->size = size;
    b->cap = 0;
    b->data = (char *)data;
    b->release = release;
    b->ctx = ctx;
    return b;
}

blob *blob_ref(blob *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void blob_unref(blob *b) {
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    if (b->release) b->release(b->ctx);
    else if (b->data != b->inline_data) free(b->data);
    free(b);
}

const char *blob_data(const blob *b) { return b->data; }
size_t blob_size(const blob *b) { return b->size; }
