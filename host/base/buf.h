/* buf.h: a growable byte buffer for encoders. */
#ifndef MARO_BUF_H
#define MARO_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
    int failed; /* set once an allocation failed; later appends do nothing */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
int buf_grow(buf *b, size_t extra); /* 0, or -1 (and failed set) when out of memory */

static inline int buf_append(buf *b, const void *p, size_t n) {
    if (b->cap - b->len < n && buf_grow(b, n) != 0) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

#endif
