#include "module/core.h"

#include <lauxlib.h>

#include "base/clock.h"
#include "base/given.h"
#include "base/ids.h"
#include "base/log.h"
#include "events/register_table.h"
#include "keys/group_key.h"
#include "launch/launch_lua.h"
#include "message/message.h"
#include "message/wire_lua.h"
#include "proxy/proxy_lua.h"
#include "watch/watch_lua.h"

static int l_now(lua_State *L) {
    if (lua_gettop(L) > 0)
        return given_raise(L, "maro.now takes no arguments, got %s", given_push(L, 1));
    lua_pushnumber(L, clock_now());
    return 1;
}

static int l_uuid(lua_State *L) {
    char id[IDS_UUID_LEN + 1];
    ids_new_uuid(id);
    lua_pushlstring(L, id, IDS_UUID_LEN);
    return 1;
}

static int check_level(lua_State *L, int idx) {
    const char *name = luaL_checkstring(L, idx);
    int level = log_parse_level(name);
    if (level < 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown log level '%s' (error, warn, info, debug)",
                                              name));
    return level;
}

/* log(level, text): one line on stderr when the level is enabled. */
static int l_log(lua_State *L) {
    int level = check_level(L, 1);
    if (level <= log_level()) log_write(level, "%s", luaL_checkstring(L, 2));
    return 0;
}

static int l_log_level(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) log_set_level(check_level(L, 1));
    lua_pushstring(L, log_level_name(log_level()));
    return 1;
}

/* group_key_new(): the text of a new group key file (marohost keygen). */
static int l_group_key_new(lua_State *L) {
    char text[GROUP_KEY_TEXT_MAX], err[256];
    if (group_key_new_text(text, sizeof text, err, sizeof err) != 0)
        return luaL_error(L, "group_key_new: %s", err);
    lua_pushstring(L, text);
    return 1;
}

static int l_log_name(lua_State *L) {
    log_set_name(luaL_checkstring(L, 1));
    return 0;
}

int luaopen_maro_core(lua_State *L) {
    static const luaL_Reg funcs[] = {{"now", l_now},         {"uuid", l_uuid},
                                     {"log", l_log},         {"log_level", l_log_level},
                                     {"log_name", l_log_name}, {"group_key_new", l_group_key_new},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    lua_pushliteral(L, MARO_VERSION);
    lua_setfield(L, -2, "VERSION");
    message_register(L);
    wire_lua_register(L);
    proxy_register(L);
    events_register(L);
    launch_register(L);
    watch_register(L);
    return 1;
}
