#include "base/ids.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <uuid/uuid.h>

/* xoshiro256** (Blackman and Vigna): fast, with a period far beyond any
 * number of ids a process makes. Not a cryptographic generator: ids name
 * sessions, they guard nothing. */
static uint64_t state[4];
static int seeded; /* cleared in a forked child, so that it draws its own ids */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(void) {
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

static void forget_seed(void) { seeded = 0; }

static void seed(void) {
    static int atfork_set;
    if (!atfork_set) atfork_set = pthread_atfork(NULL, NULL, forget_seed) == 0;
    uuid_t a, b;
    uuid_generate_random(a);
    uuid_generate_random(b);
    memcpy(&state[0], a, 16);
    memcpy(&state[2], b, 16);
    if (!(state[0] | state[1] | state[2] | state[3])) state[0] = 1; /* never all zero */
    seeded = 1;
}

uint64_t ids_random64(void) {
    if (!seeded) seed();
    return next64();
}

void ids_new_uuid(char out[IDS_UUID_LEN + 1]) {
    if (!seeded) seed();
    uint64_t hi = next64(), lo = next64();
    unsigned char u[16];
    memcpy(u, &hi, 8);
    memcpy(u + 8, &lo, 8);
    u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
    u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    /* The 8-4-4-4-12 layout of uuid_unparse_lower, without its formatting
     * cost: two hex digits per byte from a table, at fixed places. */
    static char pairs[512];
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    if (!pairs[0]) {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 256; i++) {
            pairs[2 * i] = hex[i >> 4];
            pairs[2 * i + 1] = hex[i & 15];
        }
    }
    for (int i = 0; i < 16; i++) memcpy(out + at[i], pairs + 2 * u[i], 2);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[IDS_UUID_LEN] = '\0';
}
