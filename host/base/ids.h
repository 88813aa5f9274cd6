/* ids.h: session and message ids. */
#ifndef MARO_IDS_H
#define MARO_IDS_H

#include <stdint.h>

#define IDS_UUID_LEN 36

/* 64 random bits from the same generator (not for cryptography). */
uint64_t ids_random64(void);

/* Writes a random (version 4) UUID as 36 lowercase characters and a NUL.
 * The bits come from a generator seeded by libuuid's random source once per
 * process (again after a fork): asking the kernel for every id costs
 * microseconds, and a proxy makes two ids per message. */
void ids_new_uuid(char out[IDS_UUID_LEN + 1]);

#endif
