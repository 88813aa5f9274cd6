/* probe_lua.h: maro.core.testing.listener(host, curve), a bare receiving
 * socket (transport/transport.h, zmq_probe) for specs that play an
 * impostor a forged registration points to:
 *
 *   local l = core.testing.listener("127.0.0.1", true)
 *   l.address, l.public_key   -- where it listens; its CURVE key ("" without)
 *   l:receive(seconds)        -- the first frame that arrives, or nil
 *   l:close()
 */
#ifndef MARO_PROBE_LUA_H
#define MARO_PROBE_LUA_H

#include <lua.h>

/* Adds listener to the table on top. */
void probe_register(lua_State *L);

#endif
