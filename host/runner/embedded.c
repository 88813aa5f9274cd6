#include "embedded.h"

#include <lauxlib.h>

#include "module/core.h"

static int load_embedded(lua_State *L) {
    const struct embedded_module *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbufferx(L, m->source, m->size, m->chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1); /* the module name, as require passes it */
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

void embedded_preload(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_maro_core);
    lua_setfield(L, -2, "maro.core");
    for (const struct embedded_module *m = embedded_modules; m->name; m++) {
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}
