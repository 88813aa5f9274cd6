/* lua_alloc.h: the allocator of marohost's Lua state. Lua allocates and
 * frees small objects at a high rate (a table, a message, a string per
 * message sent or received); free lists per size class serve those without
 * going through malloc each time. */
#ifndef MARO_LUA_ALLOC_H
#define MARO_LUA_ALLOC_H

#include <stddef.h>

typedef struct lua_pool lua_pool;

lua_pool *lua_pool_new(void);
void lua_pool_free(lua_pool *p); /* after lua_close */
/* A lua_Alloc: ud is the pool. */
void *lua_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
