/* events_peers.c: reads the peer names that percentages count, from the
 * {type = {name, ...}} tables that proxies hand out. */
#include <lauxlib.h>
#include <string.h>

#include "events/register_table.h"

int events_peers_kind(lua_State *L, int idx) {
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL: return PEERS_NONE;
    case LUA_TFUNCTION: return PEERS_FUNCTION;
    case LUA_TUSERDATA: return PEERS_OBJECT;
    case LUA_TTABLE: {
        /* A table with a metatable that answers `peers` is an object (a
         * proxy written in Lua); otherwise it is the peers table itself. */
        int object = 0;
        if (lua_getmetatable(L, idx)) {
            lua_pop(L, 1);
            object = lua_getfield(L, idx, "peers") != LUA_TNIL;
            lua_pop(L, 1);
        }
        return object ? PEERS_OBJECT : PEERS_TABLE;
    }
    default:
        return luaL_error(L, "RegisterTable: peers must be a {type = {name, ...}} table, a "
                             "function returning one, or a proxy; got a %s",
                          luaL_typename(L, idx));
    }
}

/* Counts the names in the peers table at idx, raising on a malformed entry. */
static size_t count_names(lua_State *L, int idx, const char *what) {
    size_t total = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "RegisterTable: %s must be {type = {name, ...}}; it has a %s key",
                       what, luaL_typename(L, -2));
        const char *type = lua_tostring(L, -2);
        if (!lua_istable(L, -1))
            luaL_error(L, "RegisterTable: %s.%s must be a list of peer names, got a %s", what,
                       type, luaL_typename(L, -1));
        lua_Unsigned n = lua_rawlen(L, -1);
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TSTRING)
                luaL_error(L, "RegisterTable: %s.%s[%d] must be a peer name (string), got a %s",
                           what, type, (int)i, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        total += (size_t)n;
        lua_pop(L, 1);
    }
    return total;
}

int events_peers_load(lua_State *L, int idx, events_table *t, const char *what) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        return luaL_error(L, "RegisterTable: %s must be a {type = {name, ...}} table, got a %s",
                          what, luaL_typename(L, idx));
    luaL_checkstack(L, 8, "reading peers");
    size_t n = count_names(L, idx, what);
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
    if (changed < 0) return luaL_error(L, "RegisterTable: out of memory reading %s", what);
    return changed;
}
