/* registration.h: what a member writes under its name in the registry, as
 * text lines that any language (and redis-cli) can read
 * (docs/protocol.md, "Registration"):
 *
 *   maro 2                      the wire version the member speaks
 *   type worker
 *   address tcp://10.0.0.5:41234
 *   incarnation 3f1c9a0e5b7d2468   this run of the member, 16 hex digits
 *   started 1764467532123       Unix time in milliseconds
 *   stats sent=10 received=12 buffered=0 dropped=0
 *
 * The first four lines are the member's identity: a heartbeat that finds
 * them unchanged refreshes the registration without announcing anything.
 * In a closed group (a group key) a member also registers its CURVE public
 * key ("curve Z85", after the identity) and ends with "mac HEX", the
 * HMAC-SHA-256 of everything before that line under a key derived from the
 * group key: members ignore a registration that is not signed so. */
#ifndef MARO_REGISTRATION_H
#define MARO_REGISTRATION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "keys/group_key.h"

#define REGISTRATION_INCARNATION_HEX 16
#define REGISTRATION_CURVE_Z85 40

typedef struct registration_stats {
    uint64_t sent, received, buffered, dropped;
} registration_stats;

typedef struct registration {
    char *name, *type, *address;
    char incarnation[REGISTRATION_INCARNATION_HEX + 1];
    char curve[REGISTRATION_CURVE_Z85 + 1]; /* the CURVE public key; empty in an open group */
    long long started_ms;
    registration_stats stats;
} registration;

/* Appends the text of r to out, signed when secrets are given; *identity_len
 * is the length of its identity lines. 0, or -1 when out of memory. */
int registration_format(const registration *r, const group_secrets *secrets, buf *out,
                        size_t *identity_len);
/* Reads the text registered under name. With secrets, only a registration
 * signed with the same group key is accepted; without, only one that is
 * not signed. 0, or -1 with err. */
int registration_parse(const char *name, const char *text, size_t len,
                       const group_secrets *secrets, registration *out, char *err,
                       size_t errlen);
/* Reads the text registered under name, signed or not, checking no
 * signature (its CURVE key is read when there is one): for a reader that
 * holds no group key and only shows what is registered (marohost status),
 * never for choosing whom to talk to, since anyone who can write to Redis
 * can write such a text. 0, or -1 with err. */
int registration_parse_unverified(const char *name, const char *text, size_t len,
                                  registration *out, char *err, size_t errlen);
/* A deep copy. 0, or -1 when out of memory. */
int registration_copy(registration *dst, const registration *src);
void registration_free(registration *r);
void registrations_free(registration *r, size_t n);

#endif
