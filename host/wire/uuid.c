#include "wire/uuid.h"

#include <pthread.h>
#include <string.h>

#include "base/ids.h"

/* Where each of the 16 bytes' two hex digits stand in the 8-4-4-4-12 form. */
static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int wire_uuid_parse(const char *s, size_t len, wire_uuid *u) {
    if (len != WIRE_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return 0;
    uint8_t b[16];
    for (int i = 0; i < 16; i++) {
        int hi = hex_value((unsigned char)s[at[i]]), lo = hex_value((unsigned char)s[at[i] + 1]);
        if (hi < 0 || lo < 0) return 0;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    if ((b[6] >> 4) != 4 || (b[8] >> 6) != 2) return 0;
    memcpy(u->prefix, b, 8);
    uint64_t c = 0;
    for (int i = 8; i < 16; i++) c = c << 8 | b[i];
    u->counter = c & WIRE_UUID_COUNTER_MAX;
    return 1;
}

void wire_uuid_format(const wire_uuid *u, char out[WIRE_UUID_LEN]) {
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    memcpy(b, u->prefix, 8);
    uint64_t c = (u->counter & WIRE_UUID_COUNTER_MAX) | (UINT64_C(2) << 62);
    for (int i = 15; i >= 8; i--) {
        b[i] = (uint8_t)c;
        c >>= 8;
    }
    for (int i = 0; i < 16; i++) {
        out[at[i]] = hex[b[i] >> 4];
        out[at[i] + 1] = hex[b[i] & 15];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
}

static wire_uuid current;
static int drawn; /* cleared in a forked child, so that it draws its own prefix */

static void forget_prefix(void) { drawn = 0; }

void wire_uuid_next(wire_uuid *u) {
    static int atfork_set;
    if (!drawn) {
        if (!atfork_set) atfork_set = pthread_atfork(NULL, NULL, forget_prefix) == 0;
        uint64_t p = ids_random64();
        memcpy(current.prefix, &p, 8);
        current.prefix[6] = (uint8_t)((current.prefix[6] & 0x0f) | 0x40); /* version 4 */
        /* Half the counter space is left for the run, so it never wraps. */
        current.counter = ids_random64() & (WIRE_UUID_COUNTER_MAX >> 1);
        drawn = 1;
    }
    current.counter = (current.counter + 1) & WIRE_UUID_COUNTER_MAX;
    *u = current;
}
