#include "discovery/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "wire/header.h"

/* Redis's own clock, so that members whose clocks disagree still agree on
 * expiry times. (Redis 7 replicates a script's effects, not the script, so
 * TIME may be read in one.) */
#define NOW_MS                                                          \
    "local t = redis.call('TIME')\n"                                    \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* KEYS: member, type set, types set, closed marker, this member's key
 * index. ARGV: value, identity length, ttl ms, name, type, channel,
 * incarnation line that may be replaced ('' for none), the group key's
 * fingerprint ('' in an open group), '1' to check that the group is as
 * closed as this member (when joining; a heartbeat keeps what joined). */
static const char *const REGISTER_SCRIPT =
    NOW_MS
    "local fp = ARGV[8]\n"
    "local closed = redis.call('GET', KEYS[4]) or nil\n"
    "local want = fp ~= '' and fp or nil\n"
    "if ARGV[9] == '1' and closed ~= want then\n"
    "  if closed then return {'closed', closed} end\n"
    "  if redis.call('ZCOUNT', KEYS[3], now, '+inf') > 0 then return {'open', ''} end\n"
    "end\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "local mine = cur and string.sub(cur, 1, tonumber(ARGV[2])) == "
    "string.sub(ARGV[1], 1, tonumber(ARGV[2]))\n"
    "if cur and not mine and (ARGV[7] == '' or not string.find(cur, ARGV[7], 1, true)) then\n"
    "  return {'taken', cur}\n"
    "end\n"
    "local ttl = tonumber(ARGV[3])\n"
    "if fp ~= '' then\n"
    "  redis.call('SET', KEYS[4], fp, 'PX', ttl)\n"
    "  redis.call('SET', KEYS[5], ARGV[4], 'PX', ttl)\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)\n"
    "redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "redis.call('ZADD', KEYS[3], now + ttl, ARGV[5])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)\n"
    "redis.call('PEXPIRE', KEYS[3], ttl)\n"
    "if not mine then\n"
    "  redis.call('PUBLISH', ARGV[6], '+' .. ARGV[4] .. '\\n' .. ARGV[5])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS: type set. ARGV: member key prefix. Returns name, value pairs. */
static const char *const LOOKUP_SCRIPT = NOW_MS
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "local out = {}\n"
    "for _, n in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local v = redis.call('GET', ARGV[1] .. n)\n"
    "  if v then out[#out + 1] = n; out[#out + 1] = v end\n"
    "end\n"
    "return out\n";

/* KEYS: types set. */
static const char *const TYPES_SCRIPT = NOW_MS
    "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')\n";

/* KEYS: member, type set, this member's key index. ARGV: identity, name,
 * channel. */
static const char *const LEAVE_SCRIPT =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and string.sub(cur, 1, #ARGV[1]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1], KEYS[3])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[2])\n"
    "  redis.call('PUBLISH', ARGV[3], '-' .. ARGV[2])\n"
    "end\n"
    "return 0\n";

static char *fmt(const char *f, const char *a, const char *b) {
    size_t n = strlen(f) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, f, a, b ? b : "");
    return s;
}

int registry_keys_init(registry_keys *k, const char *group, const char *name, const char *type,
                       const group_secrets *secrets, const char *curve) {
    memset(k, 0, sizeof *k);
    k->secrets = secrets;
    k->types = fmt("maro:%s:types%s", group, NULL);
    k->channel = fmt("maro:%s:changes%s", group, NULL);
    k->member_prefix = fmt("maro:%s:member:%s", group, NULL);
    k->type_prefix = fmt("maro:%s:type:%s", group, NULL);
    k->closed = fmt("maro:%s:closed%s", group, NULL);
    k->key_prefix = fmt("maro:%s:key:%s", group, NULL);
    if (name) k->member = fmt("maro:%s:member:%s", group, name);
    if (type) k->type = fmt("maro:%s:type:%s", group, type);
    /* An open member's index key is never written: a name no key has. */
    k->own_key = fmt("maro:%s:key:%s", group, secrets && curve ? curve : "-");
    if (k->types && k->channel && k->member_prefix && k->type_prefix && k->closed &&
        k->key_prefix && k->own_key && (!name || k->member) && (!type || k->type))
        return 0;
    registry_keys_free(k);
    return -1;
}

void registry_keys_free(registry_keys *k) {
    free(k->member);
    free(k->type);
    free(k->types);
    free(k->channel);
    free(k->member_prefix);
    free(k->type_prefix);
    free(k->closed);
    free(k->key_prefix);
    free(k->own_key);
    memset(k, 0, sizeof *k);
}

int registry_register(redisContext **c, const redis_target *t, const registry_keys *k,
                      const char *value, size_t value_len, size_t identity_len, double ttl,
                      const char *name, const char *type, const char *take_over_from,
                      int check_group, int *announced, char *err, size_t errlen) {
    char ttl_ms[32], id_len[32], needle[64] = "";
    snprintf(ttl_ms, sizeof ttl_ms, "%lld", (long long)(ttl * 1000.0 + 0.5));
    snprintf(id_len, sizeof id_len, "%zu", identity_len);
    if (take_over_from) snprintf(needle, sizeof needle, "\nincarnation %s\n", take_over_from);
    const char *fp = k->secrets ? k->secrets->fingerprint : "";
    const char *argv[] = {"EVAL", REGISTER_SCRIPT, "5", k->member, k->type, k->types, k->closed,
                          k->own_key, value, id_len, ttl_ms, name, type, k->channel, needle, fp,
                          check_group ? "1" : "0"};
    size_t lens[17];
    for (int i = 0; i < 17; i++) lens[i] = i == 8 ? value_len : strlen(argv[i]);
    redisReply *r = redis_conn_command(c, t, 17, argv, lens, err, errlen);
    if (!r) return -1;
    int rc = REGISTRY_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        const char *code = r->element[0]->str;
        redisReply *what = r->element[1];
        if (strcmp(code, "taken") == 0) {
            registration other;
            char why[256];
            /* Read without checking a signature: only its address is said. */
            if (registration_parse_unverified(name, what->str, what->len, &other, why,
                                              sizeof why) == 0) {
                snprintf(err, errlen, "%s (incarnation %s)", other.address, other.incarnation);
                registration_free(&other);
            } else {
                snprintf(err, errlen, "a registration this member cannot read");
            }
            rc = REGISTRY_TAKEN;
        } else if (strcmp(code, "closed") == 0) {
            snprintf(err, errlen, k->secrets ? "it is closed with another group key "
                                               "(fingerprint %.32s, this member's is %s)"
                                             : "it is closed: its members hold a group key "
                                               "(fingerprint %.32s); give group_key or "
                                               "MARO_GROUP_KEY_FILE",
                     what->str, fp);
            rc = REGISTRY_CLOSED;
        } else {
            snprintf(err, errlen, "it is open: members without a group key are registered, "
                     "and a member with a key never talks to them");
            rc = REGISTRY_CLOSED;
        }
    } else if (announced) {
        *announced = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    }
    freeReplyObject(r);
    return rc;
}

int registry_lookup_type(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *type, registration **out, size_t *n, char *err,
                         size_t errlen) {
    char *key = fmt("%s%s", k->type_prefix, type);
    *out = NULL;
    *n = 0;
    if (!key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *argv[] = {"EVAL", LOOKUP_SCRIPT, "1", key, k->member_prefix};
    redisReply *r = redis_conn_command(c, t, 5, argv, NULL, err, errlen);
    free(key);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        freeReplyObject(r);
        snprintf(err, errlen, "Redis gave an unexpected answer to a lookup");
        return -1;
    }
    size_t count = r->elements / 2, k2 = 0;
    registration *m = calloc(count ? count : 1, sizeof *m);
    if (!m) {
        freeReplyObject(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        redisReply *name = r->element[2 * i], *value = r->element[2 * i + 1];
        char why[256];
        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
        int rc = k->unverified ? registration_parse_unverified(name->str, value->str, value->len,
                                                               &m[k2], why, sizeof why)
                               : registration_parse(name->str, value->str, value->len,
                                                    k->secrets, &m[k2], why, sizeof why);
        if (rc != 0) {
            log_debug("skipping a member of type '%s': %s", type, why);
            continue;
        }
        if (strcmp(m[k2].type, type) != 0) { /* moved to another type: the set is stale */
            registration_free(&m[k2]);
            continue;
        }
        k2++;
    }
    freeReplyObject(r);
    *out = m;
    *n = k2;
    return 0;
}

/* GET prefix+suffix: the reply (NULL with err on failure). */
static redisReply *get(redisContext **c, const redis_target *t, const char *prefix,
                       const char *suffix, char *err, size_t errlen) {
    char *key = fmt("%s%s", prefix, suffix);
    if (!key) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *argv[] = {"GET", key};
    redisReply *r = redis_conn_command(c, t, 2, argv, NULL, err, errlen);
    free(key);
    return r;
}

int registry_lookup_name(redisContext **c, const redis_target *t, const registry_keys *k,
                         const char *name, registration *out, char *err, size_t errlen) {
    redisReply *r = get(c, t, k->member_prefix, name, err, errlen);
    if (!r) return -1;
    int found = 0;
    if (r->type == REDIS_REPLY_STRING) {
        found = registration_parse(name, r->str, r->len, k->secrets, out, err, errlen) == 0 ? 1
                                                                                       : -1;
    }
    freeReplyObject(r);
    return found;
}

int registry_lookup_key(redisContext **c, const redis_target *t, const registry_keys *k,
                        const char *curve, registration *out, char *err, size_t errlen) {
    if (!k->secrets) return 0;
    redisReply *r = get(c, t, k->key_prefix, curve, err, errlen);
    if (!r) return -1;
    char name[WIRE_MAX_NAME + 1] = "";
    if (r->type == REDIS_REPLY_STRING && r->len < sizeof name) memcpy(name, r->str, r->len + 1);
    freeReplyObject(r);
    if (!name[0]) return 0;
    int found = registry_lookup_name(c, t, k, name, out, err, errlen);
    if (found == 1 && strcmp(out->curve, curve) != 0) { /* the name moved on to another run */
        registration_free(out);
        return 0;
    }
    return found;
}

int registry_types(redisContext **c, const redis_target *t, const registry_keys *k, char ***out,
                   size_t *n, char *err, size_t errlen) {
    const char *argv[] = {"EVAL", TYPES_SCRIPT, "1", k->types};
    *out = NULL;
    *n = 0;
    redisReply *r = redis_conn_command(c, t, 4, argv, NULL, err, errlen);
    if (!r) return -1;
    char **a = calloc(r->elements + 1, sizeof *a);
    size_t m = 0;
    for (size_t i = 0; a && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && (a[m] = strdup(r->element[i]->str))) m++;
    freeReplyObject(r);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = a;
    *n = m;
    return 0;
}

int registry_leave(redisContext **c, const redis_target *t, const registry_keys *k,
                   const char *identity, size_t identity_len, const char *name, char *err,
                   size_t errlen) {
    const char *argv[] = {"EVAL", LEAVE_SCRIPT, "3", k->member, k->type, k->own_key, identity,
                          name, k->channel};
    size_t lens[9];
    for (int i = 0; i < 9; i++) lens[i] = i == 6 ? identity_len : strlen(argv[i]);
    redisReply *r = redis_conn_command(c, t, 9, argv, lens, err, errlen);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}
