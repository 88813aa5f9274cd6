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

/* What a register table knows of its peers source (kept in a user value). */
typedef struct events_peers_source {
    int kind;             /* PEERS_* */
    int loaded;           /* read since it was set */
    int has_version;      /* an object's integer peers_version, when it has one */
    lua_Integer version;
} events_peers_source;

/* The kind of the peers source at idx, given as argument arg. A table's
 * shape is checked now; anything else raises an argument error. */
int events_peers_kind(lua_State *L, int idx, int arg);

/* Reads the source at src into t when it may have changed: a table once
 * (until it is set again), a function at every call, an object when its
 * integer peers_version changed, or every call when it has none. Raises,
 * naming the bad entry, when what it reads is malformed. */
void events_peers_refresh(lua_State *L, events_peers_source *p, int src, events_table *t);

/* ---- events_args.c: reporting bad arguments ----------------------------------- */

/* Pushes what the value at idx is, for a message: "number nan", "table",
 * "string \"x\"", "maro.Message", "no value". */
void events_push_given(lua_State *L, int idx);

/* luaL_argerror with a formatted message (lua_pushfstring formats). */
int events_argerror(lua_State *L, int arg, const char *fmt, ...);

/* Raises "<what> must be <expected>, got <the value at idx>" for argument arg. */
int events_bad_value(lua_State *L, int arg, int idx, const char *what, const char *expected);

/* Checks that the value at idx, (part of) argument arg, is a list: a table
 * whose keys are 1..n without holes. Returns n; raises naming what. */
lua_Unsigned events_check_list(lua_State *L, int idx, int arg, const char *what,
                               const char *expected);

/* Raises when an argument from first on is not nil: "<method> takes <takes>". */
void events_no_more_args(lua_State *L, int first, const char *method, const char *takes);

#endif
