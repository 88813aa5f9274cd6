/* repeated.h: pushing strings that repeat (a stream's tags and sources)
 * without making them again: a new short string is hashed and looked up
 * among all strings, about 150 instructions; comparing with the last one
 * pushed costs a fraction of that. */
#ifndef MARO_REPEATED_H
#define MARO_REPEATED_H

#include <lua.h>
#include <stddef.h>

/* The bytes of the string kept at a slot, or s NULL: none yet. Valid while
 * the slot holds that string, that is, while only repeated_push writes it.
 * Zeroed memory is an empty one. */
typedef struct repeated {
    const char *s;
    size_t len;
} repeated;

/* Pushes the len bytes at s: the string kept at slot (an upvalue, or any
 * index that stays put) when it has the same bytes, else a new one, which
 * the slot then keeps and last describes. */
void repeated_push(lua_State *L, repeated *last, const char *s, size_t len, int slot);

#endif
