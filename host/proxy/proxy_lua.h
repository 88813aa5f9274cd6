/* proxy_lua.h: maro.core.Proxy, the Lua face of a proxy (docs/api.md, "Proxy"). */
#ifndef MARO_PROXY_LUA_H
#define MARO_PROXY_LUA_H

#include <lua.h>

#define PROXY_TYPE "maro.Proxy"

/* Adds Proxy (the constructor, which takes the options table) and testing
 * (raw_send and testing_hub, for specs) to the table on top. */
void proxy_register(lua_State *L);

/* The open proxy behind the maro.Proxy at idx (raises an error otherwise),
 * for C bindings that add descriptors to its wait (proxy_watch_fd). */
struct proxy *proxy_lua_check(lua_State *L, int idx);

#endif
