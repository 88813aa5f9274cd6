/* watch_lua.h: maro.core.Watcher, the Lua face of watch.h. */
#ifndef MARO_WATCH_LUA_H
#define MARO_WATCH_LUA_H

#include <lua.h>

/* Adds Watcher to the table on top (maro.core). Safe to call again. */
void watch_register(lua_State *L);

#endif
