#include "wire/utf8.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline uint64_t load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8); /* an unaligned load, without undefined behaviour */
    return w;
}

/* 1 when the 64 bytes at p are all ASCII. */
static inline int ascii64(const unsigned char *p) {
#ifdef __SSE2__
    const __m128i *v = (const __m128i *)p;
    __m128i any = _mm_or_si128(_mm_or_si128(_mm_loadu_si128(v), _mm_loadu_si128(v + 1)),
                               _mm_or_si128(_mm_loadu_si128(v + 2), _mm_loadu_si128(v + 3)));
    return _mm_movemask_epi8(any) == 0;
#else
    uint64_t any = (load64(p) | load64(p + 8)) | (load64(p + 16) | load64(p + 24)) |
                   (load64(p + 32) | load64(p + 40)) | (load64(p + 48) | load64(p + 56));
    return (any & 0x8080808080808080ULL) == 0;
#endif
}

int utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        /* ASCII runs are the common case. Long ones go 64 bytes per test,
         * which keeps the check of a 1 MiB text payload well below the cost
         * of copying it; shorter ones 8 bytes per test. */
        while ((size_t)(end - s) >= 64 && ascii64(s)) s += 64;
        if (s == end) break;
        if ((size_t)(end - s) >= 8) {
            if ((load64(s) & 0x8080808080808080ULL) == 0) {
                s += 8;
                continue;
            }
        }
        unsigned c = *s;
        if (c < 0x80) { s++; continue; }
        size_t n;
        unsigned min;
        if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; min = 0x10000; }
        else return 0;
        if ((size_t)(end - s) <= n) return 0;
        unsigned cp = c & (0x3f >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        s += n + 1;
    }
    return 1;
}

int utf8_copy_valid(char *dst, const char *src, size_t len) {
    /* Test a chunk that fits in the L1 cache, then copy it from there, so
     * that an ASCII text is read from memory once. From the first chunk that
     * is not all ASCII on, copy the rest and check it apart; no character
     * straddles that point, since every byte before it is ASCII. */
    enum { CHUNK = 4096 };
    size_t i = 0;
    while (len - i >= CHUNK) {
        const unsigned char *p = (const unsigned char *)src + i;
        size_t k = 0;
        while (k < CHUNK && ascii64(p + k)) k += 64;
        if (k < CHUNK) break;
        memcpy(dst + i, src + i, CHUNK);
        i += CHUNK;
    }
    memcpy(dst + i, src + i, len - i);
    return utf8_valid(src + i, len - i);
}
