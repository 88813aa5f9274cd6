/* watch_lua.c: maro.core.Watcher.
 *
 *   local w = core.Watcher(path [, {sighup = true}])
 *   w:changed()   -> "saved", "SIGHUP" or nil; never blocks
 *   w:fd()        -> the inotify descriptor (readable when something may have changed)
 *   w:hup_fd()    -> the SIGHUP self-pipe's read end, or nil without sighup
 *   w:close()     -- idempotent; also __gc and __close
 *
 * With sighup, SIGHUP is caught (not fatal) while the watcher is open.
 */
#include "watch/watch_lua.h"

#include <lauxlib.h>
#include <string.h>

#include "watch/watch.h"

#define WATCHER_TYPE "maro.Watcher"

typedef struct lwatch {
    watch *w; /* NULL once closed */
    int hup;  /* holds the SIGHUP handler */
    unsigned long hups_seen;
} lwatch;

static lwatch *check_open(lua_State *L) {
    lwatch *lw = luaL_checkudata(L, 1, WATCHER_TYPE);
    if (!lw->w) luaL_error(L, "Watcher is closed");
    return lw;
}

static int l_changed(lua_State *L) {
    lwatch *lw = check_open(L);
    /* Both are consumed: a SIGHUP and a save seen together ask for one reload. */
    int saved = watch_changed(lw->w);
    int hup = 0;
    if (lw->hup) {
        unsigned long n = hup_count();
        hup = n != lw->hups_seen;
        lw->hups_seen = n;
        if (hup) hup_drain();
    }
    if (hup) lua_pushliteral(L, "SIGHUP");
    else if (saved) lua_pushliteral(L, "saved");
    else lua_pushnil(L);
    return 1;
}

static int l_fd(lua_State *L) {
    lua_pushinteger(L, watch_fd(check_open(L)->w));
    return 1;
}

static int l_hup_fd(lua_State *L) {
    lwatch *lw = check_open(L);
    if (lw->hup && hup_fd() >= 0) lua_pushinteger(L, hup_fd());
    else lua_pushnil(L);
    return 1;
}

static int l_close(lua_State *L) {
    lwatch *lw = luaL_checkudata(L, 1, WATCHER_TYPE);
    if (lw->w) {
        watch_close(lw->w);
        lw->w = NULL;
    }
    if (lw->hup) {
        hup_release();
        lw->hup = 0;
    }
    return 0;
}

static int l_tostring(lua_State *L) {
    lwatch *lw = luaL_checkudata(L, 1, WATCHER_TYPE);
    lua_pushstring(L, lw->w ? "Watcher" : "Watcher(closed)");
    return 1;
}

static int l_new(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int want_hup = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "sighup");
        want_hup = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lwatch *lw = lua_newuserdatauv(L, sizeof *lw, 0);
    memset(lw, 0, sizeof *lw);
    luaL_setmetatable(L, WATCHER_TYPE);
    char err[512];
    lw->w = watch_open(path, err, sizeof err);
    if (!lw->w) return luaL_error(L, "%s", err);
    if (want_hup) {
        if (hup_acquire() != 0) return luaL_error(L, "cannot catch SIGHUP");
        lw->hup = 1;
        lw->hups_seen = hup_count();
    }
    return 1;
}

void watch_register(lua_State *L) {
    if (luaL_newmetatable(L, WATCHER_TYPE)) {
        static const luaL_Reg meta[] = {
            {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}};
        static const luaL_Reg methods[] = {{"changed", l_changed}, {"fd", l_fd},
                                           {"hup_fd", l_hup_fd},   {"close", l_close},
                                           {NULL, NULL}};
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "Watcher");
}
