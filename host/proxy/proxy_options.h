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

/* The bindings' errors point at the caller: base/given.h. */
#include "base/given.h"
#define proxy_lua_raise given_raise

#endif
