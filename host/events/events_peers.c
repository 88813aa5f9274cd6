/* events_peers.c: the peers source of a RegisterTable, the names behind
 * percentage amounts: a {type = {name, ...}} table, a function returning
 * one, an object with a `peers` field (a proxy), or nothing. Telling the
 * kinds apart, checking a table's shape, and reading the names into the
 * matcher when percentages need them. */
#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

#include "events/register_table.h"
#include "proxy/proxy_lua.h"

/* Raises msg: as an error in argument arg when arg > 0 (the source was
 * just given), else as a plain error (the source was read later). */
static int fail(lua_State *L, int arg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    if (arg > 0) return luaL_argerror(L, arg, msg);
    return luaL_error(L, "RegisterTable: %s", msg);
}

/* Checks that the table at idx is {type = {name, ...}}: string keys, and
 * for each a list (keys 1..n, no holes) of non-empty strings. Returns the
 * number of names; raises on the first bad entry, naming it. */
static size_t check_shape(lua_State *L, int idx, const char *what, int arg) {
    static const char *shape = "a {type = {name, ...}} table";
    size_t total = 0;
    luaL_checkstack(L, 8, "reading peers");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            events_push_given(L, -2);
            fail(L, arg, "%s must be %s; it has a key that is not a type name: %s", what, shape,
                 lua_tostring(L, -1));
        }
        const char *type = lua_tostring(L, -2);
        if (!lua_istable(L, -1)) {
            events_push_given(L, -1);
            fail(L, arg, "%s.%s must be a list of peer names, got %s", what, type,
                 lua_tostring(L, -1));
        }
        int list = lua_gettop(L);
        lua_Unsigned n = lua_rawlen(L, list), keys = 0;
        lua_pushnil(L);
        while (lua_next(L, list)) {
            lua_Integer i = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
            if (i < 1 || (lua_Unsigned)i > n) {
                events_push_given(L, -2);
                fail(L, arg, "%s.%s must be a list of peer names; it has the key %s", what, type,
                     lua_tostring(L, -1));
            }
            if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
                events_push_given(L, -1);
                fail(L, arg, "%s.%s[%I] must be a peer name (a non-empty string), got %s", what,
                     type, i, lua_tostring(L, -1));
            }
            keys++;
            lua_pop(L, 1);
        }
        if (keys != n)
            fail(L, arg, "%s.%s must be a list of peer names without holes (nil)", what, type);
        total += (size_t)n;
        lua_pop(L, 1);
    }
    return total;
}

static int is_proxy(lua_State *L, int idx) {
    int t = luaL_getmetafield(L, idx, "__name");
    int ok = t == LUA_TSTRING && strcmp(lua_tostring(L, -1), PROXY_TYPE) == 0;
    if (t != LUA_TNIL) lua_pop(L, 1);
    return ok;
}

/* Whether the value at idx answers a `peers` field (reading it once). */
static int has_peers_field(lua_State *L, int idx) {
    int has = lua_getfield(L, idx, "peers") != LUA_TNIL;
    lua_pop(L, 1);
    return has;
}

int events_peers_kind(lua_State *L, int idx, int arg) {
    static const char *expected = "a {type = {name, ...}} table, a function returning one, or "
                                  "a proxy";
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL: return PEERS_NONE;
    case LUA_TFUNCTION: return PEERS_FUNCTION;
    case LUA_TUSERDATA:
        /* A proxy is known by its type, without reading proxy.peers (which
         * asks discovery); any other userdata must have the field. */
        if (is_proxy(L, idx) || has_peers_field(L, idx)) return PEERS_OBJECT;
        events_push_given(L, idx);
        return fail(L, arg, "peers must be %s, got %s (it has no `peers` field)", expected,
                    lua_tostring(L, -1));
    case LUA_TTABLE:
        /* A table with a metatable that answers `peers` is an object (a
         * proxy written in Lua); otherwise it is the peers table itself. */
        if (lua_getmetatable(L, idx)) {
            lua_pop(L, 1);
            if (has_peers_field(L, idx)) return PEERS_OBJECT;
        }
        check_shape(L, idx, "peers", arg);
        return PEERS_TABLE;
    default:
        events_push_given(L, idx);
        return fail(L, arg, "peers must be %s, got %s", expected, lua_tostring(L, -1));
    }
}

/* Reads the {type = {names}} table at idx into t; raises, naming `what`,
 * when it is malformed. */
static void load(lua_State *L, int idx, events_table *t, const char *what) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) {
        events_push_given(L, idx);
        fail(L, 0, "%s must be a {type = {name, ...}} table, got %s", what, lua_tostring(L, -1));
    }
    size_t n = check_shape(L, idx, what, 0);
    /* The names stay alive in the table while the matcher copies them. */
    wire_slice *names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names, 0);
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_Unsigned len = lua_rawlen(L, -1);
        for (lua_Unsigned i = 1; i <= len && k < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            names[k].ptr = lua_tolstring(L, -1, &names[k].len);
            k++;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    int changed = events_table_set_peers(t, names, k);
    lua_pop(L, 1);
    if (changed < 0) luaL_error(L, "RegisterTable: out of memory reading %s", what);
}

void events_peers_refresh(lua_State *L, events_peers_source *p, int src, events_table *t) {
    int top = lua_gettop(L);
    src = lua_absindex(L, src);
    switch (p->kind) {
    case PEERS_NONE:
        if (!p->loaded) events_table_set_peers(t, NULL, 0);
        break;
    case PEERS_TABLE:
        if (!p->loaded) load(L, src, t, "peers");
        break;
    case PEERS_FUNCTION:
        lua_pushvalue(L, src);
        lua_call(L, 0, 1);
        load(L, -1, t, "peers()"); /* what the peers function returned */
        break;
    case PEERS_OBJECT: {
        int is_num = 0;
        lua_getfield(L, src, "peers_version");
        lua_Integer v = lua_tointegerx(L, -1, &is_num);
        lua_pop(L, 1);
        if (p->loaded && is_num && p->has_version && v == p->version) break;
        lua_getfield(L, src, "peers");
        load(L, -1, t, "proxy.peers");
        p->has_version = is_num;
        p->version = v;
        break;
    }
    }
    p->loaded = 1;
    lua_settop(L, top);
}
