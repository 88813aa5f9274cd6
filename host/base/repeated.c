#include "base/repeated.h"

#include <string.h>

void repeated_push(lua_State *L, repeated *last, const char *s, size_t len, int slot) {
    if (last->s && last->len == len && memcmp(last->s, s, len) == 0) {
        lua_pushvalue(L, slot);
        return;
    }
    last->s = lua_pushlstring(L, s, len);
    last->len = len;
    lua_copy(L, -1, slot);
}
