#include "wire/batch.h"

#include <stdio.h>

#include "wire/mp_read.h"

int wire_batch_begin(buf *out) {
    static const char prefix[WIRE_BATCH_PREFIX] = {(char)0xdd, 0, 0, 0, 0};
    return buf_append(out, prefix, sizeof prefix);
}

void wire_batch_finish(buf *out, uint32_t n) {
    uint32_t items = 2 * n;
    unsigned char *p = (unsigned char *)out->data + 1;
    p[0] = (unsigned char)(items >> 24);
    p[1] = (unsigned char)(items >> 16);
    p[2] = (unsigned char)(items >> 8);
    p[3] = (unsigned char)items;
}

int wire_batch_open(wire_batch *b, const char *data, size_t len, char *err, size_t errlen) {
    mp_reader r;
    mp_item it;
    mp_reader_init(&r, data, len);
    const char *why = mp_read(&r, &it);
    if (!why && it.kind != MP_ARRAY) why = "not an array";
    if (!why && (it.v.count == 0 || it.v.count % 2)) why = "not an even, non-zero count of items";
    if (why) {
        snprintf(err, errlen, "a frame of %zu bytes that is no batch (a MessagePack array of "
                 "header, payload pairs): %s", len, why);
        return -1;
    }
    *b = (wire_batch){data, len, mp_offset(&r), it.v.count};
    return 0;
}

/* Walks one item and everything inside it. No depth limit is needed: the
 * walk keeps a count of items still owed, not a stack, and mp_read has
 * checked every count against the bytes left. */
static const char *skip_item(mp_reader *r) {
    uint64_t owed = 1;
    while (owed > 0) {
        owed--;
        /* What headers are made of (fixarray, fixint, fixstr, str 8, nil) is
         * stepped over here; anything else goes through mp_read. */
        if (r->p < r->end) {
            unsigned c = *r->p;
            size_t left = (size_t)(r->end - r->p);
            if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
                r->p++;
                continue;
            }
            if ((c & 0xf0) == 0x90) {
                owed += c & 0x0f;
                r->p++;
                continue;
            }
            size_t len = (c & 0xe0) == 0xa0 ? (c & 0x1f) + 1 : c == 0xd9 && left >= 2 ? r->p[1] + 2u : 0;
            if (len && len <= left) {
                r->p += len;
                continue;
            }
        }
        mp_item it;
        const char *why = mp_read(r, &it);
        if (why) return why;
        if (it.kind == MP_ARRAY) owed += it.v.count;
        else if (it.kind == MP_MAP) owed += 2 * (uint64_t)it.v.count;
    }
    return NULL;
}

int wire_batch_next(wire_batch *b, wire_slice *header, wire_slice *payload, char *err,
                    size_t errlen) {
    if (b->left == 0) {
        if (b->off == b->len) return 0;
        snprintf(err, errlen, "trailing bytes after the batch, at byte %zu", b->off);
        b->off = b->len;
        return -1;
    }
    mp_reader r;
    mp_reader_init(&r, b->data, b->len);
    r.p += b->off;
    wire_slice *items[2] = {header, payload};
    for (int i = 0; i < 2; i++) {
        const unsigned char *start = r.p;
        const char *why = skip_item(&r);
        if (why) {
            snprintf(err, errlen, "a batch whose %s item at byte %zu is unreadable: %s at "
                     "byte %zu", i ? "payload" : "header", (size_t)(start - r.start), why,
                     mp_offset(&r));
            b->left = 0;
            b->off = b->len;
            return -1;
        }
        *items[i] = (wire_slice){(const char *)start, (size_t)(r.p - start)};
    }
    b->off = mp_offset(&r);
    b->left -= 2;
    return 1;
}
