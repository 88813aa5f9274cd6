#include "proxy/proxy_options.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/given.h"
#include "base/ids.h"
#include "proxy/hub_lua.h"
#include "proxy/redis_url.h"

#define COUNT_MAX 2147483647.0  /* counts are C ints */
#define SECONDS_MAX 1e9         /* about 31 years: longer is a mistake */
#define BYTES_MAX 256.0 * 1024 * 1024
#define MAX_TYPES 256

typedef enum {
    K_NAME,     /* a non-empty string without newlines, at most 1024 bytes */
    K_STRING,   /* a non-empty string */
    K_SECONDS,  /* a finite number >= min */
    K_COUNT,    /* an integer in [min, 2^31 - 1] */
    K_BYTES,    /* an integer in [min, max] */
    K_BOOL,
    K_SEND_TIMEOUT, /* seconds, or false for none */
    K_TYPES,    /* {type = count} or {{type, count}, ...} */
    K_MINIMAL,  /* a count, or {type = count} */
    K_REDIS,    /* a redis_address */
    K_HUB,      /* maro.testing's hub */
    K_INCARNATION /* 16 lowercase hex digits */
} kind;

/* The options: name, kind, where in proxy_config, the environment variable
 * that gives a default, and the smallest and largest value allowed. */
static const struct option {
    const char *name;
    kind kind;
    size_t at;
    const char *env;
    double min, max;
} options[] = {
    {"group_name", K_NAME, offsetof(proxy_config, group), "MARO_GROUP", 0, 0},
    {"component_type", K_NAME, offsetof(proxy_config, type), "MARO_COMPONENT_TYPE", 0, 0},
    {"component_name", K_NAME, offsetof(proxy_config, name), "MARO_COMPONENT_NAME", 0, 0},
    {"expected_peers", K_TYPES, offsetof(proxy_config, expected), NULL, 0, 0},
    {"redis_address", K_REDIS, 0, "MARO_REDIS", 0, 0},
    {"advertised_address", K_STRING, offsetof(proxy_config, advertised_host),
     "MARO_ADVERTISED_ADDRESS", 0, 0},
    {"bind_address", K_STRING, offsetof(proxy_config, bind_host), "MARO_BIND_ADDRESS", 0, 0},
    {"group_key", K_STRING, offsetof(proxy_config, group_key_file), "MARO_GROUP_KEY_FILE", 0, 0},
    {"take_over_from", K_INCARNATION, offsetof(proxy_config, take_over_from),
     "MARO_TAKE_OVER_FROM", 0, 0},
    {"max_redis_connect_retries", K_COUNT, offsetof(proxy_config, max_redis_connect_retries),
     NULL, 0, COUNT_MAX},
    {"initial_redis_connect_retry_interval", K_SECONDS,
     offsetof(proxy_config, initial_redis_connect_retry_interval), NULL, 0, SECONDS_MAX},
    {"max_peer_discovery_retries", K_COUNT, offsetof(proxy_config, max_peer_discovery_retries),
     NULL, 0, 1e6},
    {"initial_peer_discovery_retry_interval", K_SECONDS,
     offsetof(proxy_config, initial_peer_discovery_retry_interval), NULL, 0, 3600},
    {"max_peer_discovery_retry_interval", K_SECONDS,
     offsetof(proxy_config, max_peer_discovery_retry_interval), NULL, 0, 3600},
    {"heartbeat_interval", K_SECONDS, offsetof(proxy_config, heartbeat_interval), NULL, 0.001,
     3600},
    {"heartbeat_expiry", K_SECONDS, offsetof(proxy_config, heartbeat_expiry), NULL, 0.002, 86400},
    {"peer_refresh_interval", K_SECONDS, offsetof(proxy_config, peer_refresh_interval), NULL,
     0.001, 3600},
    {"max_buffered_messages", K_BYTES, offsetof(proxy_config, max_buffered_messages), NULL, 1,
     COUNT_MAX},
    {"max_buffered_bytes", K_BYTES, offsetof(proxy_config, max_buffered_bytes), NULL, 1,
     BYTES_MAX},
    {"max_sessions", K_BYTES, offsetof(proxy_config, max_sessions), NULL, 1, COUNT_MAX},
    {"send_timeout", K_SEND_TIMEOUT, offsetof(proxy_config, send_timeout), NULL, 0, SECONDS_MAX},
    {"linger", K_SECONDS, offsetof(proxy_config, linger), NULL, 0, 3600},
    {"send_hwm", K_COUNT, offsetof(proxy_config, send_hwm), NULL, 0, COUNT_MAX},
    {"recv_hwm", K_COUNT, offsetof(proxy_config, recv_hwm), NULL, 0, COUNT_MAX},
    {"sockets_per_context", K_COUNT, offsetof(proxy_config, sockets_per_context), NULL, 2,
     65535},
    {"max_message_size", K_BYTES, offsetof(proxy_config, max_message_size), NULL, 1,
     4294967296.0},
    {"enable_rejoin", K_BOOL, offsetof(proxy_config, enable_rejoin), NULL, 0, 0},
    {"enable_message_cache_for_rejoin", K_BOOL, offsetof(proxy_config, enable_cache), NULL, 0,
     0},
    {"peers_catch_lifetime", K_SECONDS, offsetof(proxy_config, peers_catch_lifetime), NULL, 0,
     SECONDS_MAX},
    {"max_length_for_message_cache", K_BYTES, offsetof(proxy_config, max_cache), NULL, 1,
     COUNT_MAX},
    {"minimal_peers", K_MINIMAL, offsetof(proxy_config, minimal), NULL, 0, COUNT_MAX},
    {"timeout_for_minimal_peer_number", K_SECONDS, offsetof(proxy_config, minimal_timeout), NULL,
     0, SECONDS_MAX},
    {"hub", K_HUB, offsetof(proxy_config, hub), NULL, 0, 0},
    {NULL, 0, 0, NULL, 0, 0}};

/* What the config points to that is not in the options table. */
typedef struct holder {
    redis_url redis;
    char name[WIRE_MAX_NAME + 1];
    proxy_expected expected[MAX_TYPES], minimal[MAX_TYPES];
} holder;

#define FIELD(c, o, type) ((type *)((char *)(c) + (o)->at))

static int fail(lua_State *L, const struct option *o, const char *what) {
    return given_raise(L, "maro.Proxy: option '%s' must be %s, got %s", o->name, what,
                       given_push(L, -1));
}

static double number(lua_State *L, const struct option *o, int integer) {
    char what[160];
    if (integer)
        snprintf(what, sizeof what, "an integer from %.0f to %.0f", o->min, o->max);
    else
        snprintf(what, sizeof what, "a finite number of seconds from %g to %g", o->min, o->max);
    if (lua_type(L, -1) != LUA_TNUMBER) fail(L, o, what);
    double d = lua_tonumber(L, -1);
    if (!isfinite(d) || d < o->min || d > o->max || (integer && d != floor(d))) fail(L, o, what);
    return d;
}

/* A name and a count out of a {type = count} entry or a {type, count} pair. */
static void type_count(lua_State *L, const char *opt, int list, proxy_expected *e) {
    int key_is_index = lua_type(L, -2) == LUA_TNUMBER;
    if (key_is_index) {
        if (!lua_istable(L, -1))
            proxy_lua_raise(L, "maro.Proxy: %s[%d] must be a {type, count} pair, got %s", opt,
                            (int)lua_tointeger(L, -2), luaL_typename(L, -1));
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
    } else {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
    }
    /* -2: the type, -1: the count */
    size_t len;
    const char *t = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
    if (!t || len == 0 || len > WIRE_MAX_NAME)
        proxy_lua_raise(L, "maro.Proxy: %s: a peer type must be a non-empty string, got %s",
                        opt, given_push(L, -2));
    double n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!isfinite(n) || n < 0 || n > COUNT_MAX || n != floor(n))
        proxy_lua_raise(L, "maro.Proxy: %s.%s: the count of '%s' must be an integer from 0 to "
                        "2147483647, got %s", opt, t, t, luaL_tolstring(L, -1, NULL));
    e->type = t; /* alive in the options table (or the pair in it) */
    e->count = (int)n;
    lua_pop(L, 2);
    (void)list;
}

static size_t type_counts(lua_State *L, const struct option *o, proxy_expected *out) {
    if (!lua_istable(L, -1))
        fail(L, o, "{type = count} or a list of {type, count} pairs");
    int list = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, list)) {
        if (n == MAX_TYPES) proxy_lua_raise(L, "maro.Proxy: %s names more than %d types", o->name,
                                            MAX_TYPES);
        type_count(L, o->name, list, &out[n++]);
        lua_pop(L, 1);
    }
    return n;
}

static void redis_address(lua_State *L, const struct option *o, holder *h, int from_env) {
    char err[400];
    const char *text;
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        const char *host = lua_tostring(L, -2);
        double port = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (lua_type(L, -2) != LUA_TSTRING || !host[0] || !(port >= 1 && port <= 65535) ||
            port != floor(port))
            proxy_lua_raise(L, "maro.Proxy: option 'redis_address' must be \"host:port\", "
                            "{host, port} or \"redis://[[user]:password@]host[:port][/db]\"; "
                            "a table must hold a host name and a port from 1 to 65535");
        text = lua_pushfstring(L, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, (int)port);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        text = lua_tostring(L, -1);
    } else {
        fail(L, o, "\"host:port\", {host, port} or \"redis://...\"");
        return;
    }
    if (redis_url_parse(text, &h->redis, err, sizeof err) != 0)
        proxy_lua_raise(L, "maro.Proxy: %s %s", from_env ? "MARO_REDIS" : "option 'redis_address'",
                        err);
}

/* Reads one option's value (on top of the stack) into c. */
static void read_one(lua_State *L, const struct option *o, proxy_config *c, holder *h,
                     int from_env) {
    switch (o->kind) {
    case K_NAME:
    case K_STRING: {
        size_t len;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!s || len == 0 || (o->kind == K_NAME && (len > WIRE_MAX_NAME || strchr(s, '\n'))))
            fail(L, o, o->kind == K_NAME ? "a non-empty string of at most 1024 bytes without "
                                           "newlines"
                                         : "a non-empty string");
        *FIELD(c, o, const char *) = s;
        break;
    }
    case K_INCARNATION: {
        const char *s = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING || strlen(s) != 16 ||
            strspn(s, "0123456789abcdef") != 16)
            fail(L, o, "16 lowercase hex digits (a run of a member)");
        *FIELD(c, o, const char *) = s;
        break;
    }
    case K_SECONDS: *FIELD(c, o, double) = number(L, o, 0); break;
    case K_COUNT: *FIELD(c, o, int) = (int)number(L, o, 1); break;
    case K_BYTES:
        if (o->at == offsetof(proxy_config, max_message_size))
            *FIELD(c, o, long long) = (long long)number(L, o, 1);
        else
            *FIELD(c, o, size_t) = (size_t)number(L, o, 1);
        break;
    case K_BOOL:
        if (!lua_isboolean(L, -1)) fail(L, o, "true or false");
        *FIELD(c, o, int) = lua_toboolean(L, -1);
        break;
    case K_SEND_TIMEOUT:
        if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) c->send_timeout = -1;
        else if (lua_type(L, -1) != LUA_TNUMBER) fail(L, o, "a number of seconds or false");
        else c->send_timeout = number(L, o, 0);
        break;
    case K_TYPES:
        c->n_expected = type_counts(L, o, h->expected);
        c->expected = h->expected;
        break;
    case K_MINIMAL:
        if (lua_type(L, -1) == LUA_TNUMBER) {
            c->minimal_any = (int)number(L, o, 1);
        } else {
            c->n_minimal = type_counts(L, o, h->minimal);
            c->minimal = h->minimal;
        }
        break;
    case K_REDIS: redis_address(L, o, h, from_env); break;
    case K_HUB:
        if (!(c->hub = hub_lua_test(L, -1))) fail(L, o, "a hub from maro.testing");
        break;
    }
}

static const struct option *find(const char *name) {
    for (const struct option *o = options; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

void proxy_options_read(lua_State *L, int idx, proxy_config *c) {
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx)) {
        lua_newtable(L);
        lua_replace(L, idx);
    }
    if (!lua_istable(L, idx))
        proxy_lua_raise(L, "maro.Proxy expects a table of options, e.g. maro.Proxy{group_name = "
                        "..., component_type = ...}, got %s", given_push(L, idx));
    holder *h = lua_newuserdatauv(L, sizeof *h, 1);
    memset(h, 0, sizeof *h);
    int keep = lua_gettop(L);
    lua_newtable(L); /* strings read from the environment live here */
    lua_setiuservalue(L, keep, 1);
    proxy_config_defaults(c);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const struct option *o = lua_type(L, -2) == LUA_TSTRING ? find(lua_tostring(L, -2)) : NULL;
        if (!o)
            proxy_lua_raise(L, "maro.Proxy: unknown option %s (the options are in docs/api.md)",
                            lua_type(L, -2) == LUA_TSTRING
                                ? lua_pushfstring(L, "'%s'", lua_tostring(L, -2))
                                : given_push(L, -2));
        read_one(L, o, c, h, 0);
        lua_settop(L, keep + 1); /* the key */
    }
    /* Defaults from the environment for what the options did not give;
     * an empty variable counts as unset. */
    for (const struct option *o = options; o->name; o++) {
        if (!o->env) continue;
        int given = lua_getfield(L, idx, o->name) != LUA_TNIL;
        lua_pop(L, 1);
        if (given) continue;
        const char *v = getenv(o->env);
        if (!v || !*v) continue;
        lua_getiuservalue(L, keep, 1);
        lua_pushstring(L, v);
        read_one(L, o, c, h, 1);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    if (!c->hub) {
        lua_getfield(L, idx, "redis_address");
        if (lua_isnil(L, -1) && (!getenv("MARO_REDIS") || !*getenv("MARO_REDIS")))
            redis_url_parse("127.0.0.1:6379", &h->redis, NULL, 0);
        lua_pop(L, 1);
        c->redis_host = h->redis.host;
        c->redis_port = h->redis.port;
        c->redis_user = h->redis.user[0] ? h->redis.user : NULL;
        c->redis_password = h->redis.password[0] ? h->redis.password : NULL;
        c->redis_db = h->redis.db;
    }
    const char *inc = getenv("MARO_INCARNATION");
    if (inc && *inc) c->incarnation = inc;
    if (!c->group) proxy_lua_raise(L, "maro.Proxy: no group: give group_name or set MARO_GROUP");
    if (!c->type)
        proxy_lua_raise(L, "maro.Proxy: no component type: give component_type or set "
                        "MARO_COMPONENT_TYPE");
    if (!c->name) {
        char id[IDS_UUID_LEN + 1];
        ids_new_uuid(id);
        size_t k = (size_t)snprintf(h->name, sizeof h->name, "%s_", c->type);
        for (int i = 0; id[i] && k + 1 < sizeof h->name; i++)
            if (id[i] != '-') h->name[k++] = id[i];
        h->name[k] = '\0';
        c->name = h->name;
    }
    lua_settop(L, keep); /* the holder stays */
}
