#include "proxy/probe_lua.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "transport/transport.h"

#define PROBE_TYPE "maro.testing.Listener"

static zmq_probe **check(lua_State *L) {
    zmq_probe **pr = luaL_checkudata(L, 1, PROBE_TYPE);
    if (!*pr) luaL_argerror(L, 1, "the listener is closed");
    return pr;
}

static int l_receive(lua_State *L) {
    zmq_probe **pr = check(L);
    double t = luaL_checknumber(L, 2);
    if (!isfinite(t) || t < 0 || t > 3600) return luaL_argerror(L, 2, "seconds from 0 to 3600");
    char frame[65536];
    size_t len;
    if (!zmq_probe_receive(*pr, t, frame, sizeof frame, &len)) return 0;
    lua_pushlstring(L, frame, len);
    return 1;
}

static int l_close(lua_State *L) {
    zmq_probe **pr = luaL_checkudata(L, 1, PROBE_TYPE);
    zmq_probe_close(*pr);
    *pr = NULL;
    return 0;
}

/* Fields first, then the methods (upvalue 1). */
static int l_index(lua_State *L) {
    zmq_probe **pr = luaL_checkudata(L, 1, PROBE_TYPE);
    const char *k = luaL_checkstring(L, 2);
    if (*pr && strcmp(k, "address") == 0) lua_pushstring(L, zmq_probe_address(*pr));
    else if (*pr && strcmp(k, "public_key") == 0) lua_pushstring(L, zmq_probe_public_key(*pr));
    else lua_getfield(L, lua_upvalueindex(1), k);
    return 1;
}

static int l_new(lua_State *L) {
    const char *host = luaL_checkstring(L, 1);
    int curve = lua_toboolean(L, 2);
    zmq_probe **pr = lua_newuserdatauv(L, sizeof *pr, 0);
    *pr = NULL;
    luaL_setmetatable(L, PROBE_TYPE);
    char err[300];
    if (!(*pr = zmq_probe_open(host, curve, err, sizeof err)))
        return luaL_error(L, "listener: %s", err);
    return 1;
}

void probe_register(lua_State *L) {
    if (luaL_newmetatable(L, PROBE_TYPE)) {
        static const luaL_Reg methods[] = {{"receive", l_receive}, {"close", l_close}, {NULL, NULL}};
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        luaL_newlib(L, methods);
        lua_pushcclosure(L, l_index, 1);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "listener");
}
