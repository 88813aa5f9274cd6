/* proxy_lua.c: the maro.Proxy userdata: the constructor, the fields, closing.
 * The sending and receiving methods are in proxy_send_lua.c and
 * proxy_receive_lua.c; everything that waits happens in the proxy core. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/interrupt.h"
#include "proxy/hub_lua.h"
#include "proxy/probe_lua.h"
#include "proxy/proxy_lua_impl.h"
#include "transport/transport.h"

/* Every proxy has a metatable of its own, whose __index is a table of its
 * own holding the methods and name, group_name and component_type: reading
 * those (proxy:isend, proxy.name: once each per message a script builds and
 * sends) is a table lookup in the VM, not a call. What changes (peers,
 * dropped, ...) comes from l_fields, the __index of that table. A proxy is
 * recognised by the mark it starts with (proxy_lua_impl.h). */
static const char proxy_self_key, proxy_methods_key, proxy_fields_key;

static lproxy *test_proxy(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(lproxy)) return NULL;
    lproxy *lp = lua_touserdata(L, idx);
    return lp->mark == LPROXY_MARK ? lp : NULL;
}

lproxy *proxy_lua_self(lua_State *L, int idx) {
    lproxy *lp = test_proxy(L, idx);
    if (!lp)
        proxy_lua_raise(L, "a maro.Proxy method was called on %s; call it as proxy:method(...)",
                        luaL_typename(L, idx));
    return lp;
}

proxy *proxy_lua_open(lua_State *L, const char *method) {
    lproxy *lp = proxy_lua_self(L, 1);
    if (!lp->p) proxy_lua_raise(L, "proxy:%s: the proxy is closed", method);
    if (interrupt_pending()) proxy_lua_interrupted(L, method);
    return lp->p;
}

struct proxy *proxy_lua_check(lua_State *L, int idx) {
    lproxy *lp = test_proxy(L, idx);
    if (!lp) luaL_typeerror(L, idx, PROXY_TYPE);
    if (!lp->p) luaL_argerror(L, idx, "the proxy is closed");
    return lp->p;
}

double proxy_lua_deadline(lua_State *L, int idx, const char *method) {
    if (lua_isnoneornil(L, idx)) return -1;
    double t = lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : -1;
    if (!(t >= 0 && t <= 1e9)) /* also NaN */
        proxy_lua_raise(L, "proxy:%s: the timeout must be nil (wait forever) or a number of "
                        "seconds from 0 to 1e9, got %s", method,
                        lua_type(L, idx) == LUA_TNUMBER ? luaL_tolstring(L, idx, NULL)
                                                        : luaL_typename(L, idx));
    return clock_now() + t;
}

int proxy_lua_interrupted(lua_State *L, const char *method) {
    int sig = interrupt_pending();
    return luaL_error(L, "proxy:%s: interrupted by %s", method,
                      sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
}

/* ---- fields ---------------------------------------------------------------- */

static void push_peers(lua_State *L, proxy *p) {
    lua_newtable(L);
    const char *name, *type;
    for (size_t i = 0; proxy_peer_at(p, i, &name, &type); i++) {
        if (lua_getfield(L, -1, type) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, type);
        }
        lua_pushstring(L, name);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    /* Sorted, so that the order does not depend on joining order. */
    lua_getglobal(L, "table");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "sort");
        lua_remove(L, -2);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_call(L, 1, 0);
        }
    }
    lua_pop(L, 1);
}

/* The fields that change, read through the proxy's own table (argument 1),
 * which holds the proxy under proxy_self_key. */
static int l_fields(lua_State *L) {
    static const char *const names[] = {"address", "peers", "dropped", "buffered",
                                        "buffered_bytes", "peers_version", NULL};
    lua_rawgetp(L, 1, &proxy_self_key);
    lproxy *lp = test_proxy(L, -1);
    const char *k = lua_tostring(L, 2);
    if (!lp || !k) return 0;
    if (strcmp(k, "closed") == 0) {
        lua_pushboolean(L, lp->p == NULL);
        return 1;
    }
    int f = 0;
    while (names[f] && strcmp(k, names[f]) != 0) f++;
    if (!names[f]) return 0;
    if (!lp->p) return proxy_lua_raise(L, "proxy.%s: the proxy is closed", k);
    switch (f) {
    case 0: lua_pushstring(L, proxy_address(lp->p)); break;
    case 1: push_peers(L, lp->p); break;
    case 2: lua_pushinteger(L, (lua_Integer)proxy_dropped(lp->p)); break;
    case 3: lua_pushinteger(L, (lua_Integer)proxy_buffered(lp->p)); break;
    case 4: lua_pushinteger(L, (lua_Integer)proxy_buffered_bytes(lp->p)); break;
    default: lua_pushinteger(L, (lua_Integer)proxy_peers_version(lp->p));
    }
    return 1;
}

/* ---- closing ----------------------------------------------------------------- */

/* close(): leaves; returns how many messages sent are not known to have
 * arrived (0 on a proxy closed already). */
static int l_close(lua_State *L) {
    lproxy *lp = proxy_lua_self(L, 1);
    proxy *p = lp->p;
    lp->p = NULL;
    lua_pushinteger(L, p ? (lua_Integer)proxy_close(p) : 0);
    return 1;
}

static int l_gc(lua_State *L) {
    lproxy *lp = proxy_lua_self(L, 1);
    if (lp->p) {
        proxy *p = lp->p;
        lp->p = NULL;
        proxy_close(p);
    }
    free(lp->name);
    free(lp->group);
    free(lp->type);
    lp->name = lp->group = lp->type = NULL;
    buf_free(&lp->payload.bytes);
    blob_unref(lp->payload.spare);
    lp->payload.spare = NULL;
    return 0;
}

static int l_tostring(lua_State *L) {
    lproxy *lp = proxy_lua_self(L, 1);
    if (lp->name)
        lua_pushfstring(L, "Proxy(%s, %s, group %s%s)", lp->name, lp->type, lp->group,
                        lp->p ? "" : ", closed");
    else
        lua_pushliteral(L, "Proxy(closed)");
    return 1;
}

/* watch_fd(fd, ...): these descriptors join the proxy's wait; when one is
 * readable a receive returns as if its timeout ran out (docs/proxy.md,
 * "Waking a receive"). true, or false when PROXY_MAX_WATCHED_FDS would be
 * exceeded (then none of them is added). */
static int l_watch_fd(lua_State *L) {
    proxy *p = proxy_lua_open(L, "watch_fd");
    int top = lua_gettop(L);
    for (int i = 2; i <= top; i++)
        if (!lua_isinteger(L, i) || lua_tointeger(L, i) < 0 || lua_tointeger(L, i) > 1 << 30)
            return proxy_lua_raise(L, "proxy:watch_fd: argument %d must be a file descriptor "
                                   "(an integer >= 0), got %s", i - 1,
                                   luaL_tolstring(L, i, NULL));
    for (int i = 2; i <= top; i++)
        if (proxy_watch_fd(p, (int)lua_tointeger(L, i)) != 0) {
            for (int j = 2; j < i; j++) proxy_unwatch_fd(p, (int)lua_tointeger(L, j));
            lua_pushboolean(L, 0);
            return 1;
        }
    lua_pushboolean(L, 1);
    return 1;
}

/* unwatch_fd(fd, ...): the reverse; nothing on a closed proxy. */
static int l_unwatch_fd(lua_State *L) {
    lproxy *lp = proxy_lua_self(L, 1);
    int top = lua_gettop(L);
    for (int i = 2; i <= top; i++) {
        if (!lua_isinteger(L, i))
            return proxy_lua_raise(L, "proxy:unwatch_fd: argument %d must be a file "
                                   "descriptor, got %s", i - 1, luaL_typename(L, i));
        if (lp->p) proxy_unwatch_fd(lp->p, (int)lua_tointeger(L, i));
    }
    return 0;
}

/* ---- the constructor ------------------------------------------------------- */

/* Copies the entries of the table on top into the table at dst, and pops it. */
static void move_entries(lua_State *L, int dst) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, dst);
    }
    lua_pop(L, 1);
}

/* Gives the joined proxy on top its own metatable and field table. */
static void set_own_metatable(lua_State *L, lproxy *lp) {
    int ud = lua_gettop(L);
    lua_newtable(L); /* the fields and methods */
    int t = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &proxy_methods_key);
    move_entries(L, t);
    lua_pushstring(L, lp->name);
    lua_setfield(L, t, "name");
    lua_pushstring(L, lp->group);
    lua_setfield(L, t, "group_name");
    lua_pushstring(L, lp->type);
    lua_setfield(L, t, "component_type");
    lua_pushvalue(L, ud);
    lua_rawsetp(L, t, &proxy_self_key);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &proxy_fields_key);
    lua_setmetatable(L, t);
    lua_newtable(L); /* the metatable: the shared one's entries, and __index */
    int mt = lua_gettop(L);
    luaL_getmetatable(L, PROXY_TYPE);
    move_entries(L, mt);
    lua_pushvalue(L, t);
    lua_setfield(L, mt, "__index");
    lua_setmetatable(L, ud);
    lua_settop(L, ud);
}

static int l_new(lua_State *L) {
    lua_settop(L, 1);
    proxy_config c;
    proxy_options_read(L, 1, &c); /* leaves what c points to on the stack */
    lproxy *lp = lua_newuserdatauv(L, sizeof *lp, 0);
    memset(lp, 0, sizeof *lp);
    lp->mark = LPROXY_MARK;
    buf_init(&lp->payload.bytes);
    luaL_setmetatable(L, PROXY_TYPE);
    char err[ERRLEN];
    int interrupted;
    proxy *p = proxy_open(&c, &interrupted, err, sizeof err);
    if (!p) {
        if (interrupted) return proxy_lua_interrupted(L, "join");
        return proxy_lua_raise(L, "maro.Proxy: %s", err);
    }
    lp->p = p;
    lp->name = strdup(proxy_name(p));
    lp->group = strdup(proxy_group(p));
    lp->type = strdup(proxy_type(p));
    if (!lp->name || !lp->group || !lp->type) return luaL_error(L, "maro.Proxy: out of memory");
    set_own_metatable(L, lp);
    return 1;
}

/* ---- for tests ----------------------------------------------------------------- */

/* testing.raw_send(address, {frame, ...} [, proxy, server_key]): sends
 * arbitrary frames to a proxy's receiving address, as a stranger on the
 * network could; with a proxy of a closed group and the receiver's CURVE
 * key, over a connection under that proxy's keys, as a member could. */
static int l_raw_send(lua_State *L) {
    const char *address = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    transport *as = NULL;
    const char *server_key = luaL_optstring(L, 4, NULL);
    if (!lua_isnoneornil(L, 3)) as = proxy_transport(proxy_lua_check(L, 3));
    int n = (int)luaL_len(L, 2);
    if (n < 1 || n > 32) return luaL_argerror(L, 2, "between 1 and 32 frames");
    const char *frames[32];
    size_t sizes[32];
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        frames[i] = luaL_checklstring(L, -1, &sizes[i]); /* alive in the table */
        lua_pop(L, 1);
    }
    char err[ERRLEN];
    if (zmqdrv_debug_send(address, frames, sizes, n, as, server_key, err, sizeof err) != 0)
        return luaL_error(L, "raw_send: %s", err);
    return 0;
}

void proxy_register(lua_State *L) {
    if (luaL_newmetatable(L, PROXY_TYPE)) {
        /* What every proxy's own metatable starts from (set_own_metatable);
         * a proxy still joining has this one. */
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        static const luaL_Reg own[] = {{"close", l_close},
                                       {"watch_fd", l_watch_fd},
                                       {"unwatch_fd", l_unwatch_fd},
                                       {NULL, NULL}};
        lua_newtable(L);
        const luaL_Reg *sets[] = {own, proxy_send_methods, proxy_receive_methods};
        for (int i = 0; i < 3; i++) {
            luaL_getmetatable(L, MESSAGE_TYPE); /* message_register ran before */
            luaL_setfuncs(L, sets[i], 1);
        }
        lua_rawsetp(L, LUA_REGISTRYINDEX, &proxy_methods_key);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, l_fields);
        lua_setfield(L, -2, "__index");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &proxy_fields_key);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "Proxy");
    /* What tests need and scripts do not: apart, in core.testing. */
    lua_newtable(L);
    lua_pushcfunction(L, l_raw_send);
    lua_setfield(L, -2, "raw_send");
    hub_register(L);
    probe_register(L);
    lua_setfield(L, -2, "testing");
}
