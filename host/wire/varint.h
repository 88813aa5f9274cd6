/* varint.h: unsigned LEB128, the integers of packets (docs/protocol.md):
 * seven bits per byte, least significant group first, the high bit set on
 * every byte but the last. At most 10 bytes for 64 bits. */
#ifndef MARO_VARINT_H
#define MARO_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 10

static inline size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v at p (room for varint_size(v) bytes); returns the end. */
static inline char *varint_put(char *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* Reads a varint from [*p, end): 0 and *p advanced, or -1 when it runs past
 * end or past 64 bits. */
static inline int varint_get(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end) return -1;
        unsigned b = *(*p)++;
        if (shift == 63 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Signed values as unsigned: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
