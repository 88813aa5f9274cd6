/* register_table.h: maro.RegisterTable, the Lua face of the conditional-event
 * matcher (events.h), and the Lua-reading helpers it is built from. */
#ifndef MARO_REGISTER_TABLE_H
#define MARO_REGISTER_TABLE_H

#include <lua.h>

#include "base/buf.h"
#include "events/events.h"

#define REGISTER_TABLE_TYPE "maro.RegisterTable"

/* Adds RegisterTable to the table on top (maro.core). Safe to call again. */
void events_register(lua_State *L);

/* ---- events_parse.c: an event given as a Lua value ------------------------ */

/* Parses the string or combination table at idx. On a syntax error returns
 * NULL and leaves "bad event <the event>: <reason>" on top of the stack. */
events_expr *events_parse_lua(lua_State *L, int idx);

/* Appends a short rendering of the Lua value at idx ("a:b:1" quoted, tables
 * as {..., "AND"}), cut after about limit bytes. */
void events_render(lua_State *L, int idx, buf *out, size_t limit);

/* ---- events_peers.c: the peer names behind percentages -------------------- */

/* A peers source: a {type = {names}} table, a function returning one, or
 * an object (userdata, or table with a metatable) with a `peers` field. */
enum { PEERS_NONE = 0, PEERS_TABLE, PEERS_FUNCTION, PEERS_OBJECT };

int events_peers_kind(lua_State *L, int idx); /* raises on anything else */

/* Reads the {type = {names}} table at idx into the matcher. Returns 1 when
 * the set changed, 0 when not; raises a Lua error naming the bad entry. */
int events_peers_load(lua_State *L, int idx, events_table *t, const char *what);

#endif
