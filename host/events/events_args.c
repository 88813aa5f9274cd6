/* events_args.c: how the RegisterTable binding reports a bad argument.
 *
 * Every message says what was expected and what was given, and comes from
 * luaL_argerror, so that it names the argument's position and the function
 * and points at the line that called it. */
#include <lauxlib.h>
#include <stdarg.h>

#include "base/given.h"
#include "events/register_table.h"

void events_push_given(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNONE: lua_pushliteral(L, "no value"); return;
    case LUA_TNUMBER: /* the value itself: 1.5, nan, inf, -1, 1e+300 */
        lua_pushliteral(L, "number ");
        given_push(L, idx);
        lua_concat(L, 2);
        return;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len == 0) lua_pushliteral(L, "an empty string");
        else if (len <= 40) lua_pushfstring(L, "string \"%s\"", s);
        else lua_pushliteral(L, "a string");
        return;
    }
    default: {
        /* a userdata by its type's name, as luaL_typeerror does */
        int t = luaL_getmetafield(L, idx, "__name");
        if (t == LUA_TSTRING) return;
        if (t != LUA_TNIL) lua_pop(L, 1);
        lua_pushstring(L, luaL_typename(L, idx));
    }
    }
}

int events_argerror(lua_State *L, int arg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return luaL_argerror(L, arg, msg);
}

int events_bad_value(lua_State *L, int arg, int idx, const char *what, const char *expected) {
    idx = lua_absindex(L, idx);
    events_push_given(L, idx);
    return events_argerror(L, arg, "%s must be %s, got %s", what, expected, lua_tostring(L, -1));
}

void events_no_more_args(lua_State *L, int first, const char *method, const char *takes) {
    for (int i = first, top = lua_gettop(L); i <= top; i++)
        if (!lua_isnil(L, i)) {
            events_push_given(L, i);
            events_argerror(L, i, "%s takes %s; got an extra %s", method, takes,
                            lua_tostring(L, -1));
        }
}

lua_Unsigned events_check_list(lua_State *L, int idx, int arg, const char *what,
                               const char *expected) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) events_bad_value(L, arg, idx, what, expected);
    lua_Unsigned n = lua_rawlen(L, idx), keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_Integer i = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (i < 1 || (lua_Unsigned)i > n) {
            events_push_given(L, -1);
            events_argerror(L, arg, "%s must be %s; it has the key %s", what, expected,
                            lua_tostring(L, -1));
        }
        keys++;
    }
    if (keys != n) events_argerror(L, arg, "%s must be %s without holes (nil)", what, expected);
    return n;
}
