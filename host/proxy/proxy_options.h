/* proxy_options.h: maro.Proxy's options, declared once (proxy_options.c)
 * and checked once, here: names, types, ranges (finite numbers, counts
 * within C's range), with the environment's defaults. */
#ifndef MARO_PROXY_OPTIONS_H
#define MARO_PROXY_OPTIONS_H

#include <lua.h>

#include "proxy/proxy.h"

/* Reads the options table at idx into c. The strings c points to stay
 * alive in a userdata pushed on the stack (keep it until proxy_open
 * returns). Raises an error naming the option on anything wrong. */
void proxy_options_read(lua_State *L, int idx, proxy_config *c);

/* Raises "<where>prefix: message" pointing at the caller of the C function
 * that called it (level 2), as errors from Lua code with error(msg, 2) do. */
int proxy_lua_raise(lua_State *L, const char *fmt, ...);

#endif
