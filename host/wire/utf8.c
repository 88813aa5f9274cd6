#include "wire/utf8.h"

#include <stdint.h>
#include <string.h>

int utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        /* ASCII runs are the common case: check eight bytes at a time. */
        if ((size_t)(end - s) >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
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
