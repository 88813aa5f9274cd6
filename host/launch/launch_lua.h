/* launch_lua.h: maro.core.launch, the process work behind `marohost launch`. */
#ifndef MARO_LAUNCH_LUA_H
#define MARO_LAUNCH_LUA_H

#include <lua.h>

/* Sets core.launch in the table on top of the stack. */
void launch_register(lua_State *L);

#endif
