#include "base/buf.h"

#include <stdlib.h>

void buf_init(buf *b) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void buf_free(buf *b) {
    free(b->data);
    buf_init(b);
}

int buf_grow(buf *b, size_t extra) {
    if (b->failed) return -1;
    size_t need = b->len + extra;
    if (need < b->len) goto fail; /* overflow */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) goto fail;
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}
