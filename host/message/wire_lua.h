/* wire_lua.h: maro.wire's functions in maro.core (wire_encode and
 * wire_decode): one message as the frames of a transmission, and back.
 * Specs and peers in other languages use them to look at the wire. */
#ifndef MARO_WIRE_LUA_H
#define MARO_WIRE_LUA_H

#include <lua.h>

/* Adds wire_encode and wire_decode to the table on top. */
void wire_lua_register(lua_State *L);

#endif
