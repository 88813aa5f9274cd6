#include "wire/uuid.h"

#include <pthread.h>
#include <string.h>

#include "base/ids.h"

/* Where each of the 16 bytes' two hex digits stand in the 8-4-4-4-12 form. */
static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

/* Hex digits to values (16 for anything else): ids are parsed for every
 * message a script built with its own ids, so by table, not by branch. */
static unsigned char digit_value[256];

static void make_tables(void) {
    static const char hex[] = "0123456789abcdef";
    memset(digit_value, 16, sizeof digit_value);
    for (int i = 0; i < 16; i++) digit_value[(unsigned char)hex[i]] = (unsigned char)i;
}

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

int wire_uuid_parse(const char *s, size_t len, wire_uuid *u) {
    if (len != WIRE_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return 0;
    pthread_once(&tables_once, make_tables);
    uint8_t b[16];
    unsigned bad = 0;
    for (int i = 0; i < 16; i++) {
        unsigned hi = digit_value[(unsigned char)s[at[i]]], lo = digit_value[(unsigned char)s[at[i] + 1]];
        bad |= hi | lo;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (bad & 16 || (b[6] >> 4) != 4 || (b[8] >> 6) != 2) return 0;
    memcpy(u->prefix, b, 8);
    uint64_t c = 0;
    for (int i = 8; i < 16; i++) c = c << 8 | b[i];
    u->counter = c & WIRE_UUID_COUNTER_MAX;
    return 1;
}

/* The four bytes of v as 8 lowercase hex digits, all at once: each nibble
 * is spread to a byte of its own, made a digit without a branch ('a' - '0'
 * - 10 is 39), and the 8 are stored with one write. Digit by digit, the
 * two ids of a message cost 430 instructions. */
static void hex8(uint32_t v, char out[8]) {
    uint64_t x = v;
    x = ((x & 0xffff0000u) << 16) | (x & 0xffffu);
    x = ((x & UINT64_C(0x0000ff000000ff00)) << 8) | (x & UINT64_C(0x000000ff000000ff));
    x = ((x & UINT64_C(0x00f000f000f000f0)) << 4) | (x & UINT64_C(0x000f000f000f000f));
    uint64_t letters = ((x + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
    x += UINT64_C(0x3030303030303030) + letters * 39;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x); /* the first digit is the most significant byte */
#endif
    memcpy(out, &x, 8);
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void wire_uuid_format_counter(const wire_uuid *u, char out[WIRE_UUID_LEN]) {
    uint64_t c = (u->counter & WIRE_UUID_COUNTER_MAX) | (UINT64_C(2) << 62);
    char end[8];
    hex8((uint32_t)(c >> 32), end);
    hex8((uint32_t)c, out + 28);
    memcpy(out + 19, end, 4);
    memcpy(out + 24, end + 4, 4);
}

void wire_uuid_format(const wire_uuid *u, char out[WIRE_UUID_LEN]) {
    char mid[8];
    hex8(be32(u->prefix), out);
    hex8(be32(u->prefix + 4), mid);
    memcpy(out + 9, mid, 4);
    memcpy(out + 14, mid + 4, 4);
    out[8] = out[13] = out[18] = out[23] = '-';
    wire_uuid_format_counter(u, out);
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
