/* registry.h: the keys of a group in Redis and the scripts that change them
 * (docs/protocol.md, "Discovery in Redis"). For group G:
 *
 *   maro:G:member:NAME   the member's registration (registration.h), with an
 *                        expiry of heartbeat_expiry: its liveness
 *   maro:G:type:TYPE     sorted set NAME -> expiry time (ms): the index of a type
 *   maro:G:types         sorted set TYPE -> expiry time (ms): the types present
 *   maro:G:changes       a channel: "+NAME" when a member registers anew,
 *                        "-NAME" when it leaves
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
    char *member, *type, *types, *channel, *member_prefix, *type_prefix;
} registry_keys;

/* NULL name/type: only the group-wide keys. 0, or -1 when out of memory. */
int registry_keys_init(registry_keys *k, const char *group, const char *name, const char *type);
void registry_keys_free(registry_keys *k);

/* Registers (or refreshes) value under the name. 0 done, 1 the name is
 * another live member's (err: its address), -1 error. take_over_from: an
 * incarnation whose registration may be replaced, or NULL. *announced is
 * set when the registration was new (a "+NAME" was published). */
int registry_register(redisContext **c, const redis_target *t, const registry_keys *k,
                      const char *value, size_t value_len, size_t identity_len, double ttl,
                      const char *name, const char *type, const char *take_over_from,
                      int *announced, char *err, size_t errlen);
/* The live members of a type (an array freed with registrations_free). */
int registry_lookup_type(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *type, registration **out, size_t *n, char *err,
                         size_t errlen);
/* 1 found (out filled), 0 no live member of that name, -1 error. */
int registry_lookup_name(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *name, registration *out, char *err, size_t errlen);
/* The types with live members (strings the caller frees, then the array). */
int registry_types(redisContext **c, const redis_target *t, const registry_keys *k, char ***out,
                   size_t *n, char *err, size_t errlen);
/* Removes the registration if it is still ours; announces "-NAME". */
int registry_leave(redisContext **c, const redis_target *t, const registry_keys *k,
                   const char *identity, size_t identity_len, const char *name, char *err,
                   size_t errlen);

#endif
