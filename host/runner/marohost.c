/* marohost: runs a Lua script with the maro library built in. The command
 * line follows the stock lua interpreter, so that `busted --lua=marohost`
 * and habits from `lua` work unchanged. */
#include <lauxlib.h>
#include <signal.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "keys/group_key.h"
#include "embedded.h"
#include "lua_alloc.h"
#include "status.h"
#include "stop_signals.h"

static const char *progname = "marohost";

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: %s [options] [script [args...]]\n"
            "       %s launch job.lua [args...]   (see %s launch --help)\n"
            "       %s keygen PATH                write a new group key file (mode 0600)\n"
            "       %s status [GROUP] [options]   the live members of a group (status --help)\n"
            "Runs a Lua %s script with the maro library (require \"maro\") built in;\n"
            "'launch' runs a job of several components on this machine.\n"
            "\n"
            "Options:\n"
            "  -e stat            execute the string 'stat'\n"
            "  -l mod             require library 'mod' into global 'mod'\n"
            "  -l g=mod           require library 'mod' into global 'g'\n"
            "  -v, --version      show version information\n"
            "  -E                 ignore the environment variables LUA_INIT*\n"
            "  -W                 turn Lua warnings on\n"
            "  --log-level LEVEL  error, warn, info (default) or debug; also MARO_LOG_LEVEL\n"
            "  -h, --help         show this help\n"
            "  --                 stop handling options\n"
            "  -                  stop handling options and run standard input\n"
            "\n"
            "With no script, standard input is run when it is not a terminal.\n"
            "The script gets its arguments as ... and in the global table 'arg'.\n"
            "An uncaught error prints a traceback and exits with status 1.\n",
            progname, progname, progname, progname, progname,
            LUA_VERSION_MAJOR "." LUA_VERSION_MINOR);
}

static void print_version(void) {
    printf("marohost %s (%s)\n", MARO_VERSION, LUA_RELEASE);
}

static void report(const char *msg) {
    fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
}

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below its nargs arguments under a traceback handler and
 * reports an error; returns the Lua status. */
static int docall(lua_State *L, int nargs, int nres) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    if (status != LUA_OK) {
        /* An error a stop signal raised is no failure of the script's own. */
        int sig = stop_signals_caught();
        if (sig) log_info("%s: leaving and exiting", sig == SIGINT ? "SIGINT" : "SIGTERM");
        else report(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return status;
}

static int dochunk(lua_State *L, int status) {
    if (status == LUA_OK) return docall(L, 0, 0);
    report(lua_tostring(L, -1));
    lua_pop(L, 1);
    return status;
}

static int dostring(lua_State *L, const char *s, const char *name) {
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [g=]mod: require mod and store it in global g (default: mod). */
static int dolibrary(lua_State *L, char *spec) {
    char *eq = strchr(spec, '=');
    char *mod = spec, *global = spec;
    if (eq) {
        *eq = '\0';
        mod = eq + 1;
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) lua_setglobal(L, global);
    return status;
}

/* arg[0] is the script, arg[-n..-1] what came before it, arg[1..] its arguments. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    if (status != LUA_OK) {
        /* luaL_loadfile says "cannot open x.lua" for a missing file, which is what users expect. */
        report(lua_tostring(L, -1));
        lua_pop(L, 1);
        return status;
    }
    int n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    return docall(L, n, LUA_MULTRET);
}

static int handle_luainit(lua_State *L) {
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    if (!init) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (!init) return LUA_OK;
    if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
    return dostring(L, init, name);
}

struct options {
    int script;     /* index in argv of the script, or 0 */
    int ignore_env; /* -E */
    int warnings;   /* -W */
    int version;    /* -v */
    int help;
    int has_e;      /* any -e: no stdin fallback */
};

/* Checks the command line; the -e and -l actions run later, in order. */
static int parse_args(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof *o);
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') break;
        if (strcmp(a, "-") == 0) break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) o->version = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) o->help = 1;
        else if (strcmp(a, "-E") == 0) o->ignore_env = 1;
        else if (strcmp(a, "-W") == 0) o->warnings = 1;
        else if (strcmp(a, "-i") == 0) {
            report("-i (interactive mode) is not supported; run a script, -e or - instead");
            return -1;
        } else if (strncmp(a, "-e", 2) == 0 || strncmp(a, "-l", 2) == 0 ||
                   strcmp(a, "--log-level") == 0) {
            int attached = a[1] != '-' && a[2] != '\0';
            if (!attached && (i + 1 >= argc || argv[i + 1][0] == '-')) {
                fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
                return -1;
            }
            if (a[1] == 'e') o->has_e = 1;
            if (a[1] == '-') {
                int level = log_parse_level(argv[i + 1]);
                if (level < 0) {
                    fprintf(stderr, "%s: unknown log level '%s' (error, warn, info, debug)\n",
                            progname, argv[i + 1]);
                    return -1;
                }
                log_set_level(level);
            }
            if (!attached) i++;
        } else {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            print_usage(stderr);
            return -1;
        }
    }
    o->script = i < argc ? i : 0;
    return 0;
}

static int run_actions(lua_State *L, char **argv, int end) {
    for (int i = 1; i < end; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) {
            if (strcmp(a, "--log-level") == 0) i++;
            continue;
        }
        char *value = a[2] ? a + 2 : argv[++i];
        int status = a[1] == 'e' ? dostring(L, value, "=(command line)") : dolibrary(L, value);
        if (status != LUA_OK) return status;
    }
    return LUA_OK;
}

struct run {
    int argc;
    char **argv;
    int status; /* exit status */
};

/* The standard libraries and the maro modules; the collector starts here. */
static void open_libraries(lua_State *L) {
    luaL_checkversion(L);
    luaL_openlibs(L);
    embedded_preload(L);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);
}

/* marohost launch ...: the launcher is Lua (lualib/maro/launch.lua); its
 * main returns the exit status. */
static int run_launch(lua_State *L, struct run *r) {
    open_libraries(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "maro.launch");
    if (docall(L, 1, 1) != LUA_OK) return 0;
    lua_getfield(L, -1, "main");
    lua_createtable(L, r->argc - 2, 0);
    for (int i = 2; i < r->argc; i++) {
        lua_pushstring(L, r->argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    if (docall(L, 1, 1) != LUA_OK) return 0;
    r->status = (int)luaL_optinteger(L, -1, EXIT_FAILURE);
    return 0;
}

/* marohost keygen PATH: a new group key file, never over an existing one. */
static int run_keygen(struct run *r) {
    char err[512];
    if (r->argc != 3 || r->argv[2][0] == '-') {
        fprintf(r->argc == 3 && strcmp(r->argv[2], "--help") == 0 ? stdout : stderr,
                "usage: %s keygen PATH\n"
                "Writes a new group key file at PATH (mode 0600; an existing file is never\n"
                "overwritten). Members given it (group_key, MARO_GROUP_KEY_FILE) form a closed\n"
                "group: see docs/security.md.\n", progname);
        r->status = r->argc == 3 && strcmp(r->argv[2], "--help") == 0 ? EXIT_SUCCESS : 2;
        return 0;
    }
    if (group_key_write_new(r->argv[2], err, sizeof err) != 0) {
        fprintf(stderr, "%s keygen: %s\n", progname, err);
        return 0;
    }
    r->status = EXIT_SUCCESS;
    return 0;
}

static int pmain(lua_State *L) {
    struct run *r = lua_touserdata(L, 1);
    int argc = r->argc;
    char **argv = r->argv;
    struct options o;
    r->status = EXIT_FAILURE;
    if (argc > 1 && strcmp(argv[1], "launch") == 0) return run_launch(L, r);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0) return run_keygen(r);
    if (parse_args(argc, argv, &o) != 0) return 0;
    if (o.help) {
        print_usage(stdout);
        r->status = EXIT_SUCCESS;
        return 0;
    }
    if (o.version) print_version();
    if (o.ignore_env) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    open_libraries(L);
    stop_signals_install(L);
    create_arg_table(L, argv, argc, o.script);
    if (o.warnings) lua_warning(L, "@on", 0);
    if (!o.ignore_env && handle_luainit(L) != LUA_OK) return 0;
    if (run_actions(L, argv, o.script ? o.script : argc) != LUA_OK) return 0;
    if (o.script) {
        if (run_script(L, argv, argc, o.script) != LUA_OK) return 0;
    } else if (!o.has_e && !o.version) {
        if (isatty(STDIN_FILENO)) {
            print_usage(stderr);
            return 0;
        }
        if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) return 0;
    }
    r->status = EXIT_SUCCESS;
    return 0;
}

/* What luaL_newstate would set, for a state made with our own allocator. */
static int on_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: unprotected error in a call to Lua: %s\n", progname,
            msg ? msg : "(an error object that is not a string)");
    return 0;
}

/* Lua warnings (warn() and -W): off until "@on"; pieces of one warning
 * arrive with tocont set until the last. */
typedef struct warnings {
    int on, continuing;
} warnings;

static void on_warning(void *ud, const char *msg, int tocont) {
    warnings *w = ud;
    if (!w->continuing && !tocont && msg[0] == '@') {
        if (strcmp(msg, "@on") == 0) w->on = 1;
        else if (strcmp(msg, "@off") == 0) w->on = 0;
        return;
    }
    if (w->on) {
        if (!w->continuing) fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont) fputc('\n', stderr);
        fflush(stderr);
    }
    w->continuing = tocont;
}

int main(int argc, char **argv) {
    if (argv[0] && argv[0][0]) progname = argv[0];
    /* status runs no Lua, so it starts before the state is made; and it
     * keeps its own exit status (0 when a signal ends --watch), which below
     * would become 128 + the signal, as for a script. */
    if (argc > 1 && strcmp(argv[1], "status") == 0)
        return status_main(progname, argc - 1, argv + 1);
    lua_pool *pool = lua_pool_new();
    lua_State *L = pool ? lua_newstate(lua_pool_alloc, pool) : NULL;
    if (!L) {
        report("cannot create a Lua state: not enough memory");
        lua_pool_free(pool);
        return EXIT_FAILURE;
    }
    static warnings warn_state;
    lua_atpanic(L, on_panic);
    lua_setwarnf(L, on_warning, &warn_state);
    lua_gc(L, LUA_GCSTOP); /* until the libraries are open */
    struct run r = {argc, argv, EXIT_FAILURE};
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &r);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        report(lua_tostring(L, -1));
        r.status = EXIT_FAILURE;
    }
    stop_signals_quiet();
    if (stop_signals_caught()) r.status = 128 + stop_signals_caught();
    lua_close(L); /* runs every __gc: proxies leave their group here */
    lua_pool_free(pool);
    return r.status;
}
