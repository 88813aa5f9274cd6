/* proxy_lua_impl.h: what the files of the Proxy's Lua binding share:
 * proxy_lua.c (the constructor, fields, closing), proxy_send_lua.c (the
 * sending methods) and proxy_receive_lua.c (the receiving ones). */
#ifndef MARO_PROXY_LUA_IMPL_H
#define MARO_PROXY_LUA_IMPL_H

#include <lauxlib.h>
#include <stdint.h>

#include "message/message.h"
#include "proxy/proxy.h"
#include "proxy/proxy_lua.h"
#include "proxy/proxy_options.h"

/* Every proxy userdata starts with this mark, and only those do: checking
 * it is a tenth of what a metatable lookup cost on every method call. */
#define LPROXY_MARK UINT64_C(0x6d61726f2e707879) /* "maro.pxy" */

typedef struct lproxy {
    uint64_t mark;
    proxy *p; /* NULL once closed */
    char *name, *group, *type; /* still readable after close; freed by __gc */
    message_scratch payload;   /* payloads being encoded, reused */
} lproxy;

#define ERRLEN 1024

/* The methods hold the Message metatable as upvalue 1. */
#define UP_MSG_META lua_upvalueindex(1)

/* The open proxy of a method call (argument 1); raises when it is closed. */
proxy *proxy_lua_open(lua_State *L, const char *method);
lproxy *proxy_lua_self(lua_State *L, int idx); /* open or closed */

/* A timeout argument -> a clock_now() deadline (-1: none); raises on
 * anything but nil or a finite number >= 0. */
double proxy_lua_deadline(lua_State *L, int idx, const char *method);
/* Raises the error for a wait that a signal cut short. */
int proxy_lua_interrupted(lua_State *L, const char *method);

/* Pushes a received message and frees the item. */
void proxy_lua_push_message(lua_State *L, rx_item *it, int meta);
/* Pushes replies, pending for the session ids in the list at ids. */
int proxy_lua_wait_for_ids(lua_State *L, proxy *p, int ids, double deadline, const char *method);

extern const luaL_Reg proxy_send_methods[];
extern const luaL_Reg proxy_receive_methods[];

#endif
