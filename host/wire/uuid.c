#include "wire/uuid.h"

#include <pthread.h>
#include <string.h>

#include "base/ids.h"

/* Where each of the 16 bytes' two hex digits stand in the 8-4-4-4-12 form. */
static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

/* Hex digits to values (16 for anything else), and bytes to pairs of digits:
 * ids are parsed and written for every message, so by table, not by branch. */
static unsigned char digit_value[256];
static char digit_pairs[512];

static void make_tables(void) {
    static const char hex[] = "0123456789abcdef";
    memset(digit_value, 16, sizeof digit_value);
    for (int i = 0; i < 16; i++) digit_value[(unsigned char)hex[i]] = (unsigned char)i;
    for (int i = 0; i < 256; i++) {
        digit_pairs[2 * i] = hex[i >> 4];
        digit_pairs[2 * i + 1] = hex[i & 15];
    }
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

void wire_uuid_format(const wire_uuid *u, char out[WIRE_UUID_LEN]) {
    pthread_once(&tables_once, make_tables);
    uint8_t b[16];
    memcpy(b, u->prefix, 8);
    uint64_t c = (u->counter & WIRE_UUID_COUNTER_MAX) | (UINT64_C(2) << 62);
    for (int i = 15; i >= 8; i--) {
        b[i] = (uint8_t)c;
        c >>= 8;
    }
    for (int i = 0; i < 16; i++) memcpy(out + at[i], digit_pairs + 2 * b[i], 2);
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
