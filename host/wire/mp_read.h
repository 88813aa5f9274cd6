/* mp_read.h: a bounds-checked MessagePack item reader. Every length and count
 * is checked against the bytes left before anything is used, so a hostile
 * frame can neither over-read nor make a caller reserve more than the frame
 * could hold. */
#ifndef MARO_MP_READ_H
#define MARO_MP_READ_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MP_NIL, MP_BOOL, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP } mp_kind;

typedef struct mp_item {
    mp_kind kind;
    union {
        int boolean;
        int64_t integer;
        double number;
        struct { const char *ptr; size_t len; } str; /* MP_STR and MP_BIN */
        uint32_t count;                              /* MP_ARRAY elements, MP_MAP pairs */
    } v;
} mp_item;

typedef struct mp_reader {
    const unsigned char *start, *p, *end;
} mp_reader;

static inline void mp_reader_init(mp_reader *r, const void *data, size_t len) {
    r->start = r->p = data;
    r->end = r->p + len;
}

static inline size_t mp_offset(const mp_reader *r) { return (size_t)(r->p - r->start); }
static inline size_t mp_left(const mp_reader *r) { return (size_t)(r->end - r->p); }

/* Reads the next item. Strings and binaries are consumed whole; for arrays and
 * maps only the header is read. Returns NULL, or a static description of what
 * is wrong (the reader then stands at the offending byte). */
const char *mp_read(mp_reader *r, mp_item *it);

#endif
