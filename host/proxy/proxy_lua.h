/* proxy_lua.h: maro.core.Proxy, the Lua face of a proxy (API.md, "Proxy"). */
#ifndef MARO_PROXY_LUA_H
#define MARO_PROXY_LUA_H

#include <lua.h>

#define PROXY_TYPE "maro.Proxy"

/* Adds Proxy (the constructor taking a table of checked options; the
 * friendly defaults live in lualib/maro/proxy.lua) to the table on top. */
void proxy_register(lua_State *L);

/* The open proxy behind the maro.Proxy at idx (raises an error otherwise),
 * for C bindings that add descriptors to its wait (proxy_watch_fd). */
struct proxy *proxy_lua_check(lua_State *L, int idx);

#endif
