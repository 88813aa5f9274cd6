#include "base/repeated.h"

#include <string.h>

void repeated_push(lua_State *L, const char *s, size_t len, int slot) {
    size_t last_len;
    const char *last = lua_type(L, slot) == LUA_TSTRING ? lua_tolstring(L, slot, &last_len) : NULL;
    if (last && last_len == len && memcmp(last, s, len) == 0) {
        lua_pushvalue(L, slot);
        return;
    }
    lua_pushlstring(L, s, len);
    lua_copy(L, -1, slot);
}
