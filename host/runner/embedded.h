/* embedded.h: the lualib/ files compiled into marohost. */
#ifndef MARO_EMBEDDED_H
#define MARO_EMBEDDED_H

#include <lua.h>
#include <stddef.h>

struct embedded_module {
    const char *name;      /* module name, e.g. "maro.dist" */
    const char *chunkname; /* shown in tracebacks, e.g. "@lualib/maro/dist.lua" */
    const char *source;
    size_t size;
};

extern const struct embedded_module embedded_modules[];

/* Puts maro.core and every embedded module into package.preload, so require
 * finds them whatever package.path says. */
void embedded_preload(lua_State *L);

#endif
