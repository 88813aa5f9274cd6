/* given.h: what an error message says a caller gave, the same way in every
 * binding: "got 42", "got nan", "got \"tag\"", "got nothing", "got table". */
#ifndef MARO_GIVEN_H
#define MARO_GIVEN_H

#include <lua.h>

/* Pushes a short description of the value at idx: a number as itself (nan,
 * inf, -inf, 1.5), a short string quoted, a long one by its size, nil or no
 * value as "nothing", anything else by its type name. */
const char *given_push(lua_State *L, int idx);

/* Raises "<where>message", where is the position of the caller of the C
 * function (level 2), as error(msg, 2) does in Lua. */
int given_raise(lua_State *L, const char *fmt, ...);

#endif
