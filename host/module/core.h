/* core.h: maro.core, the C half of the maro Lua library. */
#ifndef MARO_CORE_H
#define MARO_CORE_H

#include <lua.h>

/* Safe to call more than once per state: the metatables are shared. */
int luaopen_maro_core(lua_State *L);

#endif
