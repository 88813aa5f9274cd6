/* repeated.h: pushing strings that repeat (a stream's tags and sources)
 * without making them again: a new short string is hashed and looked up
 * among all strings, about 150 instructions; comparing with the last one
 * pushed costs a third of that. */
#ifndef MARO_REPEATED_H
#define MARO_REPEATED_H

#include <lua.h>
#include <stddef.h>

/* Pushes the len bytes at s: the string kept at slot (an upvalue, or any
 * index that stays put) when it has the same bytes, else a new one, which
 * the slot then keeps. A slot holding anything but a string is a miss. */
void repeated_push(lua_State *L, const char *s, size_t len, int slot);

#endif
