/* registry.h: the keys of a group in Redis and the scripts that change them
 * (docs/protocol.md, "Discovery in Redis"). For group G:
 *
 *   maro:G:member:NAME   the member's registration (registration.h), with an
 *                        expiry of heartbeat_expiry: its liveness
 *   maro:G:type:TYPE     sorted set NAME -> expiry time (ms): the index of a type
 *   maro:G:types         sorted set TYPE -> expiry time (ms): the types present
 *   maro:G:changes       a channel: "+NAME" when a member registers anew,
 *                        "-NAME" when it leaves
 *   maro:G:closed        in a closed group: the fingerprint of its group key,
 *                        with the members' expiry: a member without that key
 *                        cannot register while a member with it lives
 *   maro:G:key:Z85       in a closed group: the member whose CURVE public key
 *                        that is (found when it connects), with its expiry
 *
 * The sets expire too, and every heartbeat prunes their expired entries, so
 * that nothing of a dead member or group outlives it by more than one
 * expiry. Every change runs as one script, so two members racing for a
 * name, or a lookup pruning while a member comes back, cannot interleave. */
#ifndef MARO_REGISTRY_H
#define MARO_REGISTRY_H

#include <stddef.h>

#include "discovery/redis_conn.h"
#include "discovery/registration.h"

typedef struct registry_keys {
    char *member, *type, *types, *channel, *member_prefix, *type_prefix, *closed, *key_prefix;
    char *own_key; /* maro:G:key:Z85 of this member, or NULL */
    const group_secrets *secrets; /* NULL: an open group */
    /* Set by a reader without the group key that only shows the group
     * (marohost status): lookups return registrations, signed or not,
     * without checking signatures (registration_parse_unverified). */
    int unverified;
} registry_keys;

/* NULL name/type: only the group-wide keys. secrets and curve (this
 * member's public key): a closed group. 0, or -1 when out of memory. */
int registry_keys_init(registry_keys *k, const char *group, const char *name, const char *type,
                       const group_secrets *secrets, const char *curve);
void registry_keys_free(registry_keys *k);

enum { REGISTRY_OK = 0, REGISTRY_TAKEN = 1, REGISTRY_CLOSED = 2 };

/* Registers (or refreshes) value under the name. REGISTRY_OK; REGISTRY_TAKEN
 * when the name is another live member's (err: its address);
 * REGISTRY_CLOSED when the group is closed with a key this member does not
 * hold, or open while this member holds one (err says which); -1 error.
 * take_over_from: an incarnation whose registration may be replaced, or
 * NULL. check_group: refuse (REGISTRY_CLOSED) a group closed otherwise than
 * this member is; joining checks, heartbeats do not. *announced is set
 * when the registration was new. */
int registry_register(redisContext **c, const redis_target *t, const registry_keys *k,
                      const char *value, size_t value_len, size_t identity_len, double ttl,
                      const char *name, const char *type, const char *take_over_from,
                      int check_group, int *announced, char *err, size_t errlen);
/* The live members of a type (an array freed with registrations_free). */
int registry_lookup_type(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *type, registration **out, size_t *n, char *err,
                         size_t errlen);
/* 1 found (out filled), 0 no live member of that name, -1 error. */
int registry_lookup_name(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *name, registration *out, char *err, size_t errlen);
/* The member whose signed registration holds this CURVE public key (Z85):
 * 1 found (out filled), 0 none, -1 error. */
int registry_lookup_key(redisContext **c, const redis_target *t, const registry_keys *k,
                        const char *curve, registration *out, char *err, size_t errlen);
/* The types with live members (strings the caller frees, then the array). */
int registry_types(redisContext **c, const redis_target *t, const registry_keys *k, char ***out,
                   size_t *n, char *err, size_t errlen);
/* Removes the registration if it is still ours; announces "-NAME". */
int registry_leave(redisContext **c, const redis_target *t, const registry_keys *k,
                   const char *identity, size_t identity_len, const char *name, char *err,
                   size_t errlen);

#endif
