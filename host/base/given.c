#include "base/given.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>

const char *given_push(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL: return lua_pushliteral(L, "nothing");
    case LUA_TNUMBER:
        if (!lua_isinteger(L, idx)) {
            double d = lua_tonumber(L, idx);
            if (isnan(d)) return lua_pushliteral(L, "nan"); /* not "-nan": the sign means nothing */
            if (isinf(d)) return d > 0 ? lua_pushliteral(L, "inf") : lua_pushliteral(L, "-inf");
        }
        return luaL_tolstring(L, idx, NULL);
    case LUA_TBOOLEAN: return lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len <= 40) return lua_pushfstring(L, "\"%s\"", s);
        return lua_pushfstring(L, "a string of %d bytes", (int)len);
    }
    default: {
        int t = luaL_getmetafield(L, idx, "__name"); /* a userdata by its type's name */
        if (t == LUA_TSTRING) return lua_tostring(L, -1);
        if (t != LUA_TNIL) lua_pop(L, 1);
        return lua_pushstring(L, luaL_typename(L, idx));
    }
    }
}

int given_raise(lua_State *L, const char *fmt, ...) {
    va_list ap;
    luaL_where(L, 2);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}
