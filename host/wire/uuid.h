/* uuid.h: the ids a proxy makes (session_id, message_id) in both forms.
 * Scripts see 36-character version-4 UUID strings; the wire carries their
 * 16 bytes as an 8-byte prefix and a counter (docs/protocol.md, "Ids"), so
 * that consecutive ids of one process cost a byte or two. */
#ifndef MARO_WIRE_UUID_H
#define MARO_WIRE_UUID_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_UUID_LEN 36
#define WIRE_UUID_PREFIX_LEN 8
#define WIRE_UUID_COUNTER_MAX ((UINT64_C(1) << 62) - 1)

typedef struct wire_uuid {
    uint8_t prefix[WIRE_UUID_PREFIX_LEN]; /* bytes 0-7; byte 6 holds the version nibble 4 */
    uint64_t counter;  /* bytes 8-15 without the two variant bits: 62 bits */
} wire_uuid;

/* The next id of this process: a prefix drawn once per process (again in a
 * forked child) and a counter, so that ids are unique across processes and
 * consecutive ones differ by one. */
void wire_uuid_next(wire_uuid *u);

/* 1 and u filled when s is a lowercase version-4 UUID of the RFC 4122
 * variant (exactly what wire_uuid_format writes), else 0. */
int wire_uuid_parse(const char *s, size_t len, wire_uuid *u);
/* Writes the 36 characters (no NUL). */
void wire_uuid_format(const wire_uuid *u, char out[WIRE_UUID_LEN]);
/* Writes only the counter's characters, where out holds the formatting of
 * an id with u's prefix: consecutive ids of a sender share it. */
void wire_uuid_format_counter(const wire_uuid *u, char out[WIRE_UUID_LEN]);

#endif
