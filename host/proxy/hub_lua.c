/* hub_lua.c: the in-process hub as a Lua userdata. The hub itself is
 * reference-counted in C (every proxy on it holds a reference), so proxies
 * may outlive this userdata; its idle hook goes with it. */
#include "proxy/hub_lua.h"

#include <lauxlib.h>
#include <string.h>

#include "base/log.h"
#include "transport/inproc.h"

#define HUB_TYPE "maro.TestingHub"

typedef struct lhub {
    inproc_hub *hub;
    lua_State *L; /* the main thread: it outlives every coroutine */
    int idle_ref;
} lhub;

/* The idle hook runs on the main thread, from inside a wait of a proxy
 * method (all members of a hub run on one thread); errors are logged, not
 * raised, since they would unwind through the proxy's C code. */
static int run_idle(void *ctx, const char *address) {
    lhub *h = ctx;
    lua_State *L = h->L;
    if (!lua_checkstack(L, 4)) return 0;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->idle_ref);
    lua_pushstring(L, address);
    int did = 0;
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        log_error("testing hub: the idle function raised an error: %s", lua_tostring(L, -1));
    else
        did = lua_toboolean(L, -1);
    lua_settop(L, top);
    return did;
}

static void clear_idle(lhub *h) {
    if (h->idle_ref != LUA_NOREF) {
        luaL_unref(h->L, LUA_REGISTRYINDEX, h->idle_ref);
        h->idle_ref = LUA_NOREF;
    }
    if (h->hub) inproc_hub_set_idle(h->hub, NULL, NULL);
}

static int l_on_idle(lua_State *L) {
    lhub *h = luaL_checkudata(L, 1, HUB_TYPE);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    clear_idle(h);
    if (!lua_isnoneornil(L, 2)) {
        lua_pushvalue(L, 2);
        h->idle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        inproc_hub_set_idle(h->hub, run_idle, h);
    }
    return 0;
}

static int l_gc(lua_State *L) {
    lhub *h = luaL_checkudata(L, 1, HUB_TYPE);
    if (!h->hub) return 0;
    clear_idle(h);
    inproc_hub_unref(h->hub);
    h->hub = NULL;
    return 0;
}

static int l_index(lua_State *L) {
    lhub *h = luaL_checkudata(L, 1, HUB_TYPE);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "on_idle") == 0) lua_pushcfunction(L, l_on_idle);
    else if (strcmp(k, "id") == 0 && h->hub) lua_pushinteger(L, (lua_Integer)h->hub->id);
    else lua_pushnil(L);
    return 1;
}

static int l_tostring(lua_State *L) {
    lhub *h = luaL_checkudata(L, 1, HUB_TYPE);
    if (h->hub) lua_pushfstring(L, "TestingHub(%d)", (int)h->hub->id);
    else lua_pushliteral(L, "TestingHub(closed)");
    return 1;
}

static int l_new(lua_State *L) {
    lhub *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->hub = NULL;
    h->idle_ref = LUA_NOREF;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    h->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    luaL_setmetatable(L, HUB_TYPE);
    if (!(h->hub = inproc_hub_new())) return luaL_error(L, "testing_hub: out of memory");
    return 1;
}

struct inproc_hub *hub_lua_test(lua_State *L, int idx) {
    lhub *h = luaL_testudata(L, idx, HUB_TYPE);
    return h ? h->hub : NULL;
}

void hub_register(lua_State *L) {
    if (luaL_newmetatable(L, HUB_TYPE)) {
        static const luaL_Reg meta[] = {{"__gc", l_gc},
                                        {"__index", l_index},
                                        {"__tostring", l_tostring},
                                        {NULL, NULL}};
        luaL_setfuncs(L, meta, 0);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "testing_hub");
}
