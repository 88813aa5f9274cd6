#include "wire/mp_read.h"

#include <string.h>

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Takes n bytes of fixed-size body after a one-byte tag. */
#define NEED(n)                                        \
    do {                                               \
        if (mp_left(r) < (size_t)(n) + 1) return "truncated"; \
    } while (0)

static const char *read_bytes(mp_reader *r, mp_item *it, mp_kind kind, int lenbytes) {
    NEED(lenbytes);
    uint64_t len = be(r->p + 1, lenbytes);
    if (len > mp_left(r) - 1 - lenbytes) return "string or binary longer than the bytes left";
    it->kind = kind;
    it->v.str.ptr = (const char *)r->p + 1 + lenbytes;
    it->v.str.len = (size_t)len;
    r->p += 1 + lenbytes + len;
    return NULL;
}

static const char *read_container(mp_reader *r, mp_item *it, mp_kind kind, int lenbytes,
                                  uint32_t fixcount) {
    uint64_t count = fixcount;
    if (lenbytes) {
        NEED(lenbytes);
        count = be(r->p + 1, lenbytes);
    }
    /* Every element takes at least one byte, every map pair two. */
    uint64_t min_bytes = kind == MP_MAP ? count * 2 : count;
    if (min_bytes > mp_left(r) - 1 - lenbytes)
        return kind == MP_MAP ? "map claims more pairs than the bytes left"
                              : "array claims more elements than the bytes left";
    it->kind = kind;
    it->v.count = (uint32_t)count;
    r->p += 1 + lenbytes;
    return NULL;
}

const char *mp_read(mp_reader *r, mp_item *it) {
    if (r->p >= r->end) return "truncated";
    unsigned c = *r->p;
    if (c <= 0x7f) {
        it->kind = MP_INT;
        it->v.integer = c;
        r->p++;
        return NULL;
    }
    if (c >= 0xe0) {
        it->kind = MP_INT;
        it->v.integer = (int8_t)c;
        r->p++;
        return NULL;
    }
    if ((c & 0xf0) == 0x80) return read_container(r, it, MP_MAP, 0, c & 0x0f);
    if ((c & 0xf0) == 0x90) return read_container(r, it, MP_ARRAY, 0, c & 0x0f);
    if ((c & 0xe0) == 0xa0) {
        size_t len = c & 0x1f;
        if (len > mp_left(r) - 1) return "string or binary longer than the bytes left";
        it->kind = MP_STR;
        it->v.str.ptr = (const char *)r->p + 1;
        it->v.str.len = len;
        r->p += 1 + len;
        return NULL;
    }
    switch (c) {
    case 0xc0: it->kind = MP_NIL; r->p++; return NULL;
    case 0xc2: case 0xc3: it->kind = MP_BOOL; it->v.boolean = c == 0xc3; r->p++; return NULL;
    case 0xc4: return read_bytes(r, it, MP_BIN, 1);
    case 0xc5: return read_bytes(r, it, MP_BIN, 2);
    case 0xc6: return read_bytes(r, it, MP_BIN, 4);
    case 0xca: {
        NEED(4);
        uint32_t u = (uint32_t)be(r->p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        it->kind = MP_FLOAT;
        it->v.number = f;
        r->p += 5;
        return NULL;
    }
    case 0xcb: {
        NEED(8);
        uint64_t u = be(r->p + 1, 8);
        double d;
        memcpy(&d, &u, 8);
        it->kind = MP_FLOAT;
        it->v.number = d;
        r->p += 9;
        return NULL;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        int n = 1 << (c - 0xcc);
        NEED(n);
        uint64_t u = be(r->p + 1, n);
        if (u > INT64_MAX) return "unsigned integer above 2^63-1 (not a Lua integer)";
        it->kind = MP_INT;
        it->v.integer = (int64_t)u;
        r->p += 1 + n;
        return NULL;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int n = 1 << (c - 0xd0);
        NEED(n);
        uint64_t u = be(r->p + 1, n);
        int64_t v;
        if (n == 1) v = (int8_t)u;
        else if (n == 2) v = (int16_t)u;
        else if (n == 4) v = (int32_t)u;
        else memcpy(&v, &u, 8);
        it->kind = MP_INT;
        it->v.integer = v;
        r->p += 1 + n;
        return NULL;
    }
    case 0xd9: return read_bytes(r, it, MP_STR, 1);
    case 0xda: return read_bytes(r, it, MP_STR, 2);
    case 0xdb: return read_bytes(r, it, MP_STR, 4);
    case 0xdc: return read_container(r, it, MP_ARRAY, 2, 0);
    case 0xdd: return read_container(r, it, MP_ARRAY, 4, 0);
    case 0xde: return read_container(r, it, MP_MAP, 2, 0);
    case 0xdf: return read_container(r, it, MP_MAP, 4, 0);
    case 0xc1: return "reserved type byte 0xc1";
    default: return "extension types are not supported"; /* 0xc7-0xc9, 0xd4-0xd8 */
    }
}
