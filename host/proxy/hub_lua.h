/* hub_lua.h: maro.core.testing.testing_hub(), the in-process hub (transport/inproc.h)
 * as a Lua value that maro.Proxy{hub = ...} joins; used by maro.testing.
 *
 *   local hub = core.testing.testing_hub()
 *   hub:on_idle(fn)  -- fn(address) runs while a member of the hub waits and
 *                    -- nothing has arrived for it; it returns true when it
 *                    -- did something. nil removes it.
 *   hub.id           -- a number, unique in the process
 */
#ifndef MARO_HUB_LUA_H
#define MARO_HUB_LUA_H

#include <lua.h>

struct inproc_hub;

/* Adds testing_hub to the table on top. */
void hub_register(lua_State *L);

/* The hub at idx, or NULL when the value there is not one. */
struct inproc_hub *hub_lua_test(lua_State *L, int idx);

#endif
