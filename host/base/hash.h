/* hash.h: the hash of byte strings for the tables looked up per message
 * (peers by name, sessions by id, senders by run). Eight bytes at a time:
 * a 36-character id costs five multiplications, where a byte-wise hash
 * costs a hundred and fifty instructions. Not for untrusted keys where
 * collisions would hurt: the tables bound what they hold. */
#ifndef MARO_HASH_H
#define MARO_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_bytes(const void *data, size_t n) {
    const unsigned char *s = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n, w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

#endif
