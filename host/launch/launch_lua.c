#include "launch/launch_lua.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "launch/supervisor.h"
#include "launch/sysutil.h"

#define SUPERVISOR_TYPE "maro.launch.supervisor"

extern char **environ;

typedef struct {
    supervisor *s; /* NULL once closed */
} lsup;

static lsup *check_sup(lua_State *L) {
    lsup *u = luaL_checkudata(L, 1, SUPERVISOR_TYPE);
    if (!u->s) luaL_error(L, "the launcher's supervisor is closed");
    return u;
}

static int fail(lua_State *L, const char *msg) {
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

static int l_supervisor(lua_State *L) {
    char err[256];
    lsup *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = NULL;
    luaL_setmetatable(L, SUPERVISOR_TYPE);
    u->s = supervisor_open(err, sizeof err);
    if (!u->s) return fail(L, err);
    return 1;
}

/* A NULL-terminated char* array in a userdata, so that it is freed by the
 * collector even when an error cuts the call short; the strings it points to
 * must stay anchored by the caller. */
static char **new_strv(lua_State *L, size_t n) {
    char **v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
    memset(v, 0, (n + 1) * sizeof *v);
    return v;
}

static char **build_argv(lua_State *L, int opts) {
    if (lua_getfield(L, opts, "argv") != LUA_TTABLE) luaL_error(L, "spawn: argv must be a list");
    int t = lua_gettop(L);
    size_t n = lua_rawlen(L, t);
    if (n == 0) luaL_error(L, "spawn: argv is empty");
    char **v = new_strv(L, n);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, t, (lua_Integer)i + 1);
        if (!lua_isstring(L, -1)) luaL_error(L, "spawn: argv[%d] is not a string", (int)i + 1);
        v[i] = (char *)lua_tostring(L, -1);
        lua_rawseti(L, t, (lua_Integer)i + 1); /* anchored (a number became a string) */
    }
    return v; /* stack: ... argv-table strv */
}

/* Our environment with the entries of opts.env set (a string) or removed
 * (false). The new "K=V" strings are anchored in a table left on the stack. */
static char **build_envp(lua_State *L, int opts) {
    int has = lua_getfield(L, opts, "env") == LUA_TTABLE;
    int env = lua_gettop(L);
    lua_newtable(L);
    int anchor = lua_gettop(L);
    size_t n = 0;
    for (char **e = environ; *e; e++) n++;
    if (has) {
        lua_pushnil(L);
        while (lua_next(L, env)) {
            lua_pop(L, 1);
            n++;
        }
    }
    char **v = new_strv(L, n);
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        if (has) {
            lua_pushlstring(L, *e, (size_t)(eq - *e));
            int t = lua_rawget(L, env);
            lua_pop(L, 1);
            if (t != LUA_TNIL) continue; /* replaced or removed below */
        }
        v[k++] = *e;
    }
    if (has) {
        lua_pushnil(L);
        while (lua_next(L, env)) {
            if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "spawn: env keys must be strings");
            if (lua_isstring(L, -1)) {
                const char *kv = lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
                v[k++] = (char *)kv;
                lua_rawseti(L, anchor, (lua_Integer)k);
            }
            lua_pop(L, 1);
        }
    }
    v[k] = NULL;
    return v;
}

/* sup:spawn{path=, argv={...}, env={K=V|false}, prefix=, color=, own_group=,
 * death_signal=} -> pid | nil, message */
static int l_spawn(lua_State *L) {
    lsup *u = check_sup(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "path");
    const char *path = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 2, "prefix");
    const char *prefix = luaL_optstring(L, -1, "");
    lua_getfield(L, 2, "color");
    int color = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 2, "own_group");
    int own_group = lua_toboolean(L, -1);
    lua_getfield(L, 2, "death_signal");
    int death = 0;
    if (!lua_isnil(L, -1)) {
        death = sysutil_signal_number(luaL_checkstring(L, -1));
        if (death < 0) luaL_error(L, "spawn: unknown signal '%s'", lua_tostring(L, -1));
    }
    char **argv = build_argv(L, 2);
    char **envp = build_envp(L, 2);
    struct spawn_opts o = {path ? path : argv[0], argv, envp, own_group, death, NULL};
    char err[512];
    pid_t pid = supervisor_spawn(u->s, &o, prefix, color, err, sizeof err);
    if (pid < 0) return fail(L, err);
    lua_pushinteger(L, pid);
    return 1;
}

/* sup:wait([timeout]) -> list of {kind="exit", pid=, code=, signal=, last_err=} and
 * {kind="signal", signal=}; signals by name ("TERM"). */
static int l_wait(lua_State *L) {
    lsup *u = check_sup(L);
    double timeout = -1;
    if (!lua_isnoneornil(L, 2)) {
        timeout = luaL_checknumber(L, 2);
        if (timeout < 0 || isnan(timeout)) timeout = 0;
        if (timeout > 86400) timeout = 86400;
    }
    int n = supervisor_wait(u->s, timeout);
    if (n < 0) return luaL_error(L, "waiting for the launched processes: %s", strerror(errno));
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        const struct sup_event *ev = supervisor_event(u->s, i);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, ev->kind == SUP_EXIT ? "exit" : "signal");
        lua_setfield(L, -2, "kind");
        if (ev->kind == SUP_EXIT) {
            lua_pushinteger(L, ev->pid);
            lua_setfield(L, -2, "pid");
            if (ev->code >= 0) {
                lua_pushinteger(L, ev->code);
                lua_setfield(L, -2, "code");
            }
            if (ev->last_err[0]) {
                lua_pushstring(L, ev->last_err);
                lua_setfield(L, -2, "last_err");
            }
        }
        if (ev->signal) {
            const char *name = sysutil_signal_name(ev->signal);
            if (name) lua_pushstring(L, name);
            else lua_pushinteger(L, ev->signal);
            lua_setfield(L, -2, "signal");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* sup:kill(pid, "TERM") -> true | nil, message */
static int l_kill(lua_State *L) {
    lsup *u = check_sup(L);
    lua_Integer pid = luaL_checkinteger(L, 2);
    const char *name = luaL_optstring(L, 3, "TERM");
    int sig = sysutil_signal_number(name);
    if (sig < 0) return luaL_argerror(L, 3, lua_pushfstring(L, "unknown signal '%s'", name));
    if (supervisor_kill(u->s, (pid_t)pid, sig) < 0)
        return fail(L, lua_pushfstring(L, "cannot signal %d: %s", (int)pid, strerror(errno)));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_running(lua_State *L) {
    lua_pushinteger(L, supervisor_running(check_sup(L)->s));
    return 1;
}

static int l_close(lua_State *L) {
    lsup *u = luaL_checkudata(L, 1, SUPERVISOR_TYPE);
    if (u->s) {
        supervisor_free(u->s);
        u->s = NULL;
    }
    return 0;
}

static int l_free_port(lua_State *L) {
    char err[256];
    int port = sysutil_free_port(err, sizeof err);
    if (port < 0) return fail(L, err);
    lua_pushinteger(L, port);
    return 1;
}

/* redis_ping(host, port [, timeout [, password [, user]]]) -> true | nil, message */
static int l_redis_ping(lua_State *L) {
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checkinteger(L, 2);
    double timeout = luaL_optnumber(L, 3, 0.5);
    const char *password = luaL_optstring(L, 4, NULL);
    const char *user = luaL_optstring(L, 5, NULL);
    char err[256];
    if (!sysutil_redis_ping(host, port, user, password, timeout, err, sizeof err))
        return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_mkdtemp(lua_State *L) {
    char out[4096], err[512];
    if (sysutil_mkdtemp(luaL_optstring(L, 1, "marohost"), out, sizeof out, err, sizeof err) < 0)
        return fail(L, err);
    lua_pushstring(L, out);
    return 1;
}

static int l_rmdir(lua_State *L) {
    char err[512];
    if (sysutil_rmdir(luaL_checkstring(L, 1), err, sizeof err) < 0) return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* write_private(path, text) -> true | nil, message: a new file of mode 0600. */
static int l_write_private(lua_State *L) {
    size_t len;
    const char *path = luaL_checkstring(L, 1);
    const char *text = luaL_checklstring(L, 2, &len);
    char err[512];
    if (sysutil_write_private(path, text, len, err, sizeof err) < 0) return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_self_exe(lua_State *L) {
    char out[4096], err[512];
    if (sysutil_self_exe(out, sizeof out, err, sizeof err) < 0) return fail(L, err);
    lua_pushstring(L, out);
    return 1;
}

void launch_register(lua_State *L) {
    if (luaL_newmetatable(L, SUPERVISOR_TYPE)) {
        static const luaL_Reg methods[] = {{"spawn", l_spawn}, {"wait", l_wait},
                                           {"kill", l_kill},   {"running", l_running},
                                           {"close", l_close}, {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {{"supervisor", l_supervisor}, {"free_port", l_free_port},
                                     {"redis_ping", l_redis_ping}, {"mkdtemp", l_mkdtemp},
                                     {"rmdir", l_rmdir},           {"self_exe", l_self_exe},
                                     {"write_private", l_write_private},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "launch");
}
